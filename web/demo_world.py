"""The demo world: about 40 countries, 300 members, 60 applications in two calls and an
account for each role in each language, dated relative to the day it is loaded.

Loaded once, in one transaction, on top of the small demo (``web.demo``): when its
marker account exists, nothing is done. For speed the records are inserted in bulk, but
every state is reached by replaying the workflow tables (``workflow.machines``): each
step is resolved by the machine for the role that takes it, at the moment it would have
been taken, and leaves the audit line ``services.common.fire`` would have written. The
scheduler's own steps (report obligations 120 days ahead, reports and memberships
overdue, inactive after the grace period) are replayed at the local midnight the sweep
would have taken them, so a sweep right after loading finds nothing to change.

No domain event is published: loading queues no mail. (The reminders the scheduler owes
from that day on are its own business, as for any data.)
"""

from __future__ import annotations

import hashlib
import heapq
import random
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from babel import Locale
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from config.paths import uploads_folder
from web import demo_data as data
from workflow import questionnaires as qn
from workflow.actors import SYSTEM, Actor
from workflow.calendar import end_of_day, local_date, start_of_day
from workflow.db import transaction
from workflow.machines import ANNOUNCEMENT, APPLICATION, ASSIGNMENT, MEMBERSHIP, REPORT, Workflow
from workflow.models import (
    Announcement,
    Application,
    AuditEvent,
    Call,
    City,
    Country,
    JuryAssignment,
    JuryScore,
    Membership,
    Report,
    ReportVersion,
    UploadedFile,
    User,
)
from workflow.services import calls as call_service
from workflow.services.applications import CHALLENGES, ENDORSED
from workflow.services.memberships import report_rule
from workflow.states import ApplicationState as A
from workflow.states import MembershipState as M
from workflow.states import ReportState as R
from workflow.states import Role

DOMAIN = "demo.example.org"
#: The account whose presence says the world is loaded.
MARKER = f"admin.en@{DOMAIN}"
LANGUAGES = ("en", "fr", "lv", "ru")
LOADER = Actor(Role.ADMIN, "demo data")
PDF = b"%PDF-1.4\n% GNLC demo: a signed application form (demo data)\n%%EOF\n"
SEED = 2015
#: Members imported before the system's first recorded call, by year before it.
MEMBERS_PER_YEAR = (18, 22, 26, 28, 30, 32, 34, 36, 34, 30)
#: The network's real announcement days (the other years: a day in September).
ANNOUNCED_ON = {
    2019: date(2019, 7, 17),
    2020: date(2020, 9, 23),
    2022: date(2022, 9, 2),
    2024: date(2024, 2, 14),
}
#: The year whose announcement was corrected afterwards (55 cities, then 54).
CORRECTED_YEAR = 2020


@dataclass(frozen=True)
class Account:
    email: str
    role: str
    language: str
    country: str | None = None
    city: str | None = None


def accounts() -> list[Account]:
    """The role x language accounts, e.g. ``city.fr@demo.example.org``."""
    found = []
    for lang in LANGUAGES:
        country, city = data.ACCOUNT_PLACES[lang]
        found += [
            Account(f"admin.{lang}@{DOMAIN}", "admin", lang),
            Account(f"institute.{lang}@{DOMAIN}", "institute", lang),
            Account(f"commission.{lang}@{DOMAIN}", "commission", lang, country),
            Account(f"city.{lang}@{DOMAIN}", "city", lang, country, city),
            Account(f"juror.{lang}@{DOMAIN}", "juror", lang, JUROR_COUNTRIES[lang]),
        ]
    return found


#: The jurors' own countries (a juror never reviews a city of theirs) and names.
JUROR_COUNTRIES = {"en": "GB", "fr": "FR", "lv": "LV", "ru": "KZ"}
JUROR_NAMES = {
    "en": "Rachel Evans",
    "fr": "Julien Moreau",
    "lv": "Anna Bērziņa",
    "ru": "Дмитрий Орлов",
}


#: "de <country>" as French writes it before "pour l'UNESCO" (article and preposition).
_FR_OF = {
    "LV": "de la Lettonie", "FR": "de la France", "EE": "de l'Estonie",
    "DE": "de l'Allemagne", "ES": "de l'Espagne", "IT": "de l'Italie", "IE": "de l'Irlande",
    "FI": "de la Finlande", "PT": "du Portugal", "BE": "de la Belgique",
    "PL": "de la Pologne", "GB": "du Royaume-Uni", "CA": "du Canada",
    "KZ": "du Kazakhstan", "KG": "du Kirghizstan", "UZ": "de l'Ouzbékistan",
    "AM": "de l'Arménie", "CN": "de la Chine", "KR": "de la République de Corée",
    "JP": "du Japon", "IN": "de l'Inde", "ID": "de l'Indonésie", "PH": "des Philippines",
    "TH": "de la Thaïlande", "VN": "du Viet Nam", "AU": "de l'Australie",
    "MN": "de la Mongolie", "SN": "du Sénégal", "CI": "de la Côte d'Ivoire",
    "CM": "du Cameroun", "NG": "du Nigeria", "KE": "du Kenya", "GH": "du Ghana",
    "ZA": "de l'Afrique du Sud", "RW": "du Rwanda", "MA": "du Maroc",
    "TN": "de la Tunisie", "EG": "de l'Égypte", "JO": "de la Jordanie",
    "AE": "des Émirats arabes unis", "MX": "du Mexique", "CO": "de la Colombie",
    "BR": "du Brésil", "AR": "de l'Argentine", "CL": "du Chili",
}  # fmt: skip
#: Russian genitives the simple endings below would get wrong.
_RU_OF = {"EG": "Египта"}


def _lv_of(name: str) -> str | None:
    """The Latvian genitive of a one-word country name (Latvija -> Latvijas), or None."""
    if " " in name or "-" in name or name.endswith("as"):
        return None
    if name.endswith("a") or name.endswith("e"):
        return name + "s"
    return None


def _ru_of(code: str, name: str) -> str | None:
    """The Russian genitive of a one-word country name (Латвия -> Латвии), or None."""
    if code in _RU_OF:
        return _RU_OF[code]
    if " " in name or "-" in name or not name.isalpha():
        return None
    if name.endswith("ия"):
        return name[:-1] + "и"
    if name.endswith("а"):
        return name[:-1] + ("и" if name[-2] in "кгхжшчщ" else "ы")
    if name.endswith("й"):
        return name[:-1] + "я"
    if name[-1] in "бвгдзклмнпрстфхцчшщ" and not name.endswith("ет"):
        return name + "а"
    return None


def commission_names(code: str) -> dict[str, str]:
    """A demo Commission's names in the four languages (``workflow.names``), its country
    as Babel names it in each: with the language's preposition or case where known, else
    "...: <country>"."""

    def territory(lang: str) -> str:
        return str(Locale.parse(lang).territories.get(code, code))

    the = "the " if code in ("GB", "PH", "AE") else ""
    en = data.COMMISSION_NAME["en"].format(country=the + territory("en"))
    fr_of = _FR_OF.get(code)
    fr = (
        f"Commission nationale {fr_of} pour l'UNESCO (démo)"
        if fr_of
        else f"Commission nationale pour l'UNESCO : {territory('fr')} (démo)"
    )
    lv_of = _lv_of(territory("lv"))
    lv = (
        f"{lv_of} Nacionālā komisija UNESCO (demo)"
        if lv_of
        else f"Nacionālā komisija UNESCO: {territory('lv')} (demo)"
    )
    ru_of = _ru_of(code, territory("ru"))
    ru = (
        f"Национальная комиссия {ru_of} по делам ЮНЕСКО (демо)"
        if ru_of
        else f"Национальная комиссия по делам ЮНЕСКО: {territory('ru')} (демо)"
    )
    return {"en": en, "fr": fr, "lv": lv, "ru": ru}


def slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join("".join(c if c.isalnum() else " " for c in folded.lower()).split())


def city_email(name: str, code: str) -> str:
    return f"{slug(name)}.{code.lower()}@{DOMAIN}"


def load_world(
    factory: sessionmaker[Session], settings: Settings, now: datetime, password_hash: str
) -> bool:
    """Create the world at ``now`` unless it exists; True when it was created."""
    with transaction(factory) as session:
        if session.scalars(select(User.id).where(User.email == MARKER)).first() is not None:
            return False
        world = _World(session, settings, now, password_hash)
        world.build()
        files = world.files
    folder = uploads_folder(settings)
    folder.mkdir(parents=True, exist_ok=True)
    for name in files:
        (folder / name).write_bytes(PDF)
    return True


Comment = str | Callable[[], str]


@dataclass
class _Trail:
    """The audit lines of the replayed steps, inserted in time order once ids exist."""

    lines: list[tuple[datetime, int, Any, str, str, Actor, str | None, str | None, Comment]] = (
        field(default_factory=list)
    )

    def add(
        self,
        record: Any,
        kind: str,
        action: str,
        actor: Actor,
        at: datetime,
        source: str | None = None,
        dest: str | None = None,
        comment: Comment = "",
    ) -> None:
        self.lines.append((at, len(self.lines), record, kind, action, actor, source, dest, comment))

    def start(
        self,
        workflow: Workflow,
        record: Any,
        trigger: str,
        actor: Actor,
        at: datetime,
        comment: Comment = "",
    ) -> None:
        step = workflow.resolve_start(trigger, actor.role, kind=workflow.name)
        record.state = step.dest.value
        record.version = 1
        self.add(record, workflow.name, trigger, actor, at, None, step.dest.value, comment)

    def move(
        self,
        workflow: Workflow,
        record: Any,
        trigger: str,
        actor: Actor,
        at: datetime,
        comment: str = "",
    ) -> None:
        step = workflow.resolve(trigger, record.state, actor.role, kind=workflow.name, key=0)
        if step.needs_comment and not comment.strip():
            raise ValueError(f"{workflow.name} {trigger} needs a comment")
        self.add(record, workflow.name, trigger, actor, at, record.state, step.dest.value, comment)
        record.state = step.dest.value
        record.version = (record.version or 1) + 1

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "at": at,
                "actor_id": actor.user_id,
                "actor_name": actor.name,
                "role": actor.role.value,
                "subject_type": kind,
                "subject_id": record.id,
                "action": action,
                "from_state": source,
                "to_state": dest,
                "comment": comment() if callable(comment) else comment,
            }
            for at, _, record, kind, action, actor, source, dest, comment in sorted(
                self.lines, key=lambda line: (line[0], line[1])
            )
        ]


@dataclass
class _Place:
    city: City
    language: str
    actor: Actor
    people: str


class _World:
    def __init__(
        self, session: Session, settings: Settings, now: datetime, password_hash: str
    ) -> None:
        self.session = session
        self.settings = settings
        self.now = now
        self.hash = password_hash
        self.rng = random.Random(SEED)
        self.trail = _Trail()
        self.files: list[str] = []
        self.places: dict[tuple[str, str], _Place] = {}
        self.commissions: dict[str, Actor] = {}
        self.since = now  # set in build(): when the world's accounts were made
        self.admitted: list[tuple[Application, datetime]] = []
        #: the previous call's decisions (told on one day) and the open call's, not yet told
        self.announced: list[tuple[Application, datetime]] = []
        self.unannounced: list[Application] = []
        #: the imported members' announcement of each year
        self.history: list[tuple[int, datetime]] = []
        self.uploads: list[tuple[Application, str, datetime, Actor]] = []
        self.zones = {p.code: p.timezone for p in data.PLACES}

    # -- people and places ----------------------------------------------------------

    def person(self, pool: str) -> str:
        given, family = data.NAMES[pool]
        return f"{self.rng.choice(given)} {self.rng.choice(family)}"

    def build(self) -> None:
        current, previous = self.calls()
        first_year = previous.opens_on.year - len(MEMBERS_PER_YEAR)
        self.since = datetime(first_year, 1, 15, 9, tzinfo=UTC)
        self.countries()
        self.users()
        institute = self.session.scalars(
            select(User).where(User.email == "institute@example.org")
        ).first()
        self.institute = (
            Actor(Role.INSTITUTE, institute.name, institute.id)
            if institute is not None
            else Actor(Role.INSTITUTE, "Institute (demo)")
        )
        members, applicants = self.split()
        self.applications(previous, current, applicants)
        self.session.flush()
        for app, stored, at, actor in self.uploads:
            self.session.add(
                UploadedFile(
                    application_id=app.id,
                    filename="signed-form.pdf",
                    stored_name=stored,
                    size=len(PDF),
                    sha256=hashlib.sha256(PDF).hexdigest(),
                    uploaded_at=at,
                    uploaded_by=actor.user_id,
                )
            )
        for app, at in self.admitted:
            self.admit(app, at)
        self.jury(current)
        self.imported(members, previous)
        self.announcements(previous, current)
        self.session.flush()
        self.questionnaires()
        self.session.flush()
        self.session.execute(insert(AuditEvent), self.trail.rows())

    def questionnaires(self) -> None:
        """The latest report cycle answered as questionnaires (docs/questionnaires.md):
        each report sent in it carries its answers and its first version, the Institute's
        outcome and, for a returned one, a comment beside the partnerships section (the
        demo's Latvian city account, Liepāja, is one), so a newcomer can resubmit one."""
        today = local_date(self.now, self.settings.calls.timezone)
        cycle = self.session.scalar(select(func.max(Report.due_on)).where(Report.due_on <= today))
        if cycle is None:
            return
        questionnaire = qn.for_cycle(cycle)
        if questionnaire is None:
            return
        sent = self.session.scalars(
            select(Report)
            .where(
                Report.due_on == cycle,
                Report.submitted_at.is_not(None),
                Report.state.in_((R.SUBMITTED.value, R.RETURNED.value, R.ACCEPTED.value)),
                Report.questionnaire.is_(None),
            )
            .order_by(Report.id)
        )
        area = questionnaire.question("main_area")
        options = [o.key for o in area.options] if area is not None else [""]
        for number, report in enumerate(sent):
            lang = report.membership.city.language
            words = data.REPORT_ANSWERS.get(lang, data.REPORT_ANSWERS["en"])
            n, k = 3 + number % 29, 10 + (7 * number) % 97
            answers: dict[str, object] = {key: text.format(n=n, k=k) for key, text in words.items()}
            answers |= {
                "learners_reached": 500 * (1 + number % 40),
                "main_area": options[number % len(options)],
                "network_exchange": "yes" if number % 3 else "no",
            }
            returned = report.state == R.RETURNED.value
            comment = data.REPORT_SECTION_COMMENT.get(lang, data.REPORT_SECTION_COMMENT["en"])
            report.questionnaire = questionnaire.version
            report.answers = answers
            self.session.add(
                ReportVersion(
                    report_id=report.id,
                    number=1,
                    questionnaire=questionnaire.version,
                    answers=answers,
                    files={},
                    submitted_at=report.submitted_at,
                    late=report.late,
                    comments={"partnerships": comment} if returned else {},
                    outcome={"returned": "returned", "accepted": "accepted"}.get(report.state, ""),
                    decided_at=report.decided_at,
                )
            )

    def calls(self) -> tuple[Call, Call]:
        """The call open now (made if none is) and the latest call decided ~90 days ago."""
        s, settings, now = self.session, self.settings, self.now
        current = call_service.current_or_next(s, settings, now)
        if current is None or not call_service.window(current).contains(now):
            current = self.gap_call() or current
        today = local_date(now, settings.calls.timezone)
        call_service.ensure_year(s, settings, today.year - 1, now)
        done = [
            c
            for c in s.scalars(select(Call).order_by(Call.opens_on))
            if not call_service.is_cancelled(c)
            and c.commission_deadline <= today - timedelta(days=90)
            and (current is None or c.id != current.id)
        ]
        assert done, "the annual rule always makes last year's call"
        previous = done[-1]
        return current or previous, previous

    def gap_call(self) -> Call | None:
        """A call open now that fits between the stored ones (none may overlap)."""
        s, settings, now = self.session, self.settings, self.now
        today = local_date(now, settings.calls.timezone)
        live = [c for c in s.scalars(select(Call)) if not call_service.is_cancelled(c)]
        opens = max(
            [today - timedelta(days=7)]
            + [c.closes_on + timedelta(days=1) for c in live if c.closes_on < today]
        )
        closes = min(
            [today + timedelta(days=60)]
            + [c.opens_on - timedelta(days=1) for c in live if c.opens_on > today]
        )
        if any(c.opens_on <= closes and opens <= c.closes_on for c in live):
            return None
        name = f"demo-{today:%Y-%m-%d}"
        if s.scalars(select(Call).where(Call.name == name)).first() is not None:
            return None
        return call_service.create_call(
            s, settings, LOADER, name=name, opens_on=opens, closes_on=closes, now=now
        )

    def countries(self) -> None:
        for place in data.PLACES:
            country = self.session.get(Country, place.code)
            if country is None:
                name = data.COMMISSION_NAME[place.language].format(country=place.name)
                country = Country(
                    code=place.code,
                    name=place.name,
                    commission_name=name,
                    commission_names=commission_names(place.code),
                    commission_email=f"office.{place.code.lower()}@{DOMAIN}",
                    language=place.language,
                    timezone=place.timezone,
                )
                self.session.add(country)
        self.session.flush()
        for place in data.PLACES:
            lang = place.language if place.language in ("fr", "lv", "ru") else "en"
            for name in place.cities:
                mayor = self.person(place.people)
                city = City(
                    country_code=place.code,
                    name=name,
                    website=f"https://{slug(name)}.{place.code.lower()}.{DOMAIN}",
                    mayor_name=mayor,
                    mayor_title=data.MAYOR_TITLE[lang],
                    contact_name=self.person(place.people),
                    contact_email=city_email(name, place.code),
                    contact_phone="",
                    language=lang,
                    population=self.rng.randrange(40, 3000) * 1000,
                )
                self.session.add(city)
                self.places[(place.code, name)] = _Place(city, lang, LOADER, place.people)
        self.session.flush()

    def user(self, email: str, name: str, role: str, language: str, **scope: Any) -> User:
        user = User(
            email=email,
            name=name,
            role=role,
            language=language,
            password_hash=self.hash,
            active=True,
            created_at=self.since,
            **scope,
        )
        self.session.add(user)
        self.trail.add(user, "user", "create", LOADER, self.since, comment=f"{email} as {role}")
        return user

    def users(self) -> None:
        offices: dict[str, User] = {}
        for place in data.PLACES:
            email = f"office.{place.code.lower()}@{DOMAIN}"
            # no language yet ('' : taken at the first sign-in); only the role x language
            # accounts below have one
            offices[place.code] = self.user(
                email, self.person(place.people), "commission", "", country_code=place.code
            )
        focal = {
            key: self.user(p.city.contact_email, p.city.contact_name, "city", "", city_id=p.city.id)
            for key, p in self.places.items()
        }
        self.session.flush()
        for code, user in offices.items():
            self.commissions[code] = Actor(Role.COMMISSION, user.name, user.id, code)
        for key, user in focal.items():
            city = self.places[key].city
            self.places[key].actor = Actor(
                Role.CITY, user.name, user.id, city.country_code, city.id
            )
        for account in accounts():
            scope: dict[str, Any] = {}
            if account.role in ("commission", "juror"):
                scope["country_code"] = account.country
            if account.city is not None:
                assert account.country is not None
                scope["city_id"] = self.places[(account.country, account.city)].city.id
            name = (
                JUROR_NAMES[account.language]
                if account.role == "juror"
                else data.ACCOUNT_NAMES[(account.role, account.language)]
            )
            self.user(account.email, name, account.role, account.language, **scope)
        self.session.flush()

    def split(self) -> tuple[list[_Place], list[_Place]]:
        """The members-to-be and the applicants (the account cities have their roles)."""
        fixed_applicants = {
            ("SN", "Saint-Louis"),
            ("KZ", "Shymkent"),
            ("IE", "Galway"),
            ("SN", "Thiès"),
            ("LV", "Daugavpils"),
            ("KZ", "Karaganda"),
            ("FR", "Nantes"),
            ("LV", "Rēzekne"),
        }
        fixed_members = {("IE", "Cork"), ("LV", "Liepāja")}
        others = [k for k in self.places if k not in fixed_applicants | fixed_members]
        self.rng.shuffle(others)
        count = sum(MEMBERS_PER_YEAR) - len(fixed_members)
        members = [self.places[k] for k in sorted(fixed_members) + others[:count]]
        applicants = [self.places[k] for k in sorted(fixed_applicants)] + [
            self.places[k] for k in others[count:]
        ]
        return members, applicants

    # -- applications ---------------------------------------------------------------

    def applications(self, previous: Call, current: Call, applicants: list[_Place]) -> None:
        used = Counter[tuple[int, str]]()
        for call_id, code in self.session.execute(
            select(Application.call_id, Application.country_code).where(
                Application.state.in_([s.value for s in ENDORSED])
            )
        ):
            used[(call_id, code)] += 1
        by_key = {(p.city.country_code, p.city.name): p for p in applicants}
        plans: list[tuple[_Place, Call, str]] = []
        is_open = call_service.window(current).contains(self.now)
        # The accounts' cities and the Commissions' first cases, then the rest.
        fixed = [
            (("SN", "Saint-Louis"), "returned"),
            (("KZ", "Shymkent"), "draft"),
            (("IE", "Galway"), "submitted"),
            (("SN", "Thiès"), "submitted"),
            (("LV", "Daugavpils"), "submitted"),
            (("KZ", "Karaganda"), "resubmitted"),
            (("FR", "Nantes"), "submitted"),
            (("LV", "Rēzekne"), "forwarded"),
        ]
        for key, recipe in fixed:
            plans.append((by_key[key], current, recipe if is_open else "draft"))
        rest = [p for p in applicants if (p.city.country_code, p.city.name) not in dict(fixed)]
        before = (
            ["admitted"] * 9
            + ["not_admitted"] * 4
            + ["under_review"] * 2
            + ["forwarded"]
            + ["declined"] * 4
            + ["withdrawn", "withdrawn_reviewed"]
            + ["expired"] * 3
            + ["expired_returned"]
        )
        now_open = (
            ["draft"] * 7
            + ["submitted"] * 4
            + ["resubmitted"]
            + ["returned"] * 3
            + ["declined"] * 2
            + ["forwarded"] * 2
            + ["direct"]
            + ["under_review", "admitted_unannounced", "not_admitted_unannounced"]
            + ["withdrawn"] * 2
            + ["withdrawn_draft"]
        )
        pool = iter(rest)
        later: list[_Place] = []
        for recipe in before:
            place = next(pool)
            plans.append((place, previous, recipe))
            if recipe in ("declined", "not_admitted", "expired"):
                later.append(place)  # some apply again in the current call
        again = iter(later[:4])
        for recipe in now_open:
            place = next(again, None) or next(pool)
            plans.append((place, current, recipe if is_open else "draft"))
        for place, call, recipe in plans:
            endorsing = recipe in (
                "admitted",
                "not_admitted",
                "under_review",
                "forwarded",
                "direct",
                "withdrawn_reviewed",
                "admitted_unannounced",
                "not_admitted_unannounced",
            )
            quota_key = (call.id, place.city.country_code)
            if endorsing and used[quota_key] >= call.quota:
                recipe = "submitted" if call is current else "declined"
            elif endorsing:
                used[quota_key] += 1
            self.application(place, call, recipe, open_now=call is current and is_open)

    def application(self, place: _Place, call: Call, recipe: str, *, open_now: bool) -> None:
        rng, t = self.rng, self.trail
        city, lang = place.city, place.language
        tz = call.timezone
        opens = start_of_day(call.opens_on, tz)
        closes = min(end_of_day(call.closes_on, tz), self.now)
        deadline = min(end_of_day(call.commission_deadline, tz), self.now)

        def between(start: datetime, end: datetime, lo: float = 0.1, hi: float = 0.6) -> datetime:
            return start + (end - start) * rng.uniform(lo, hi)

        if opens > self.now:  # a draft for the next call, started before it opens
            created = self.now - timedelta(days=rng.randint(2, 20), hours=rng.randint(0, 9))
            closes = deadline = self.now
        else:
            created = between(opens, closes, 0.02, 0.3)
        app = Application(
            call_id=call.id,
            city_id=city.id,
            country_code=city.country_code,
            route="commission",
            state=A.DRAFT.value,
            version=1,
            motivation=rng.choice(data.MOTIVATION[lang]).format(city=city.name),
            implementation_plan="",
            challenges={},
            signed_by="",
            created_at=created,
            updated_at=created,
        )
        self.session.add(app)
        city_actor, commission = place.actor, self.commissions[city.country_code]
        t.add(app, "application", "create", city_actor, created, None, A.DRAFT.value)
        clock = created
        if recipe in ("draft", "expired", "withdrawn_draft"):
            if rng.random() < 0.5:
                app.implementation_plan = rng.choice(data.PLAN[lang])
            if recipe == "expired":
                clock = start_of_day(call.closes_on + timedelta(days=1), tz)
                t.move(
                    APPLICATION, app, "expire", SYSTEM, clock, "not submitted before the deadline"
                )
            elif recipe == "withdrawn_draft":
                clock = between(created, closes)
                t.move(APPLICATION, app, "withdraw", city_actor, clock)
            app.updated_at = clock
            return
        app.implementation_plan = rng.choice(data.PLAN[lang])
        app.challenges = {c: rng.randint(1, 5) for c in CHALLENGES}
        app.signed_by = city.mayor_name
        clock = between(created, closes, 0.05, 0.2)
        stored = f"demo-{hashlib.sha256(f'{call.id}-{city.id}'.encode()).hexdigest()[:24]}.pdf"
        app.signed_form = stored
        self.files.append(stored)
        self.uploads.append((app, stored, clock, city_actor))
        t.add(
            app, "application", "upload_signed_form", city_actor, clock, comment="signed-form.pdf"
        )
        clock = between(clock, closes, 0.2, 0.7)
        app.submitted_at = clock
        if recipe == "direct":
            app.route = "direct"
            app.endorsement = f"{city.country_code}-{call.opens_on.year}/{rng.randint(10, 99)}"
            app.endorsed_at = clock
            t.move(APPLICATION, app, "submit_direct", city_actor, clock)
            app.updated_at = clock
            return
        t.move(APPLICATION, app, "submit", city_actor, clock)
        commission_lang = self.session.get(Country, city.country_code)
        clang = commission_lang.language if commission_lang is not None else "en"
        if recipe in ("returned", "resubmitted", "expired_returned"):
            clock = between(clock, deadline, 0.1, 0.4)
            t.move(
                APPLICATION, app, "return_to_city", commission, clock, data.COMMISSION_RETURN[clang]
            )
            if recipe == "expired_returned":
                clock = start_of_day(call.commission_deadline + timedelta(days=1), tz)
                t.move(
                    APPLICATION, app, "expire", SYSTEM, clock, "not submitted before the deadline"
                )
            elif recipe == "resubmitted":
                clock = between(clock, deadline, 0.2, 0.6)
                app.submitted_at = clock
                t.move(APPLICATION, app, "submit", city_actor, clock)
            app.updated_at = clock
            return
        if recipe == "declined":
            clock = between(clock, deadline, 0.2, 0.8)
            app.decided_at = clock
            t.move(APPLICATION, app, "decline", commission, clock, data.COMMISSION_DECLINE[clang])
            app.updated_at = clock
            return
        if recipe == "withdrawn":
            clock = between(clock, closes if open_now else deadline)
            t.move(APPLICATION, app, "withdraw", city_actor, clock)
            app.updated_at = clock
            return
        if recipe == "submitted":
            return
        clock = between(clock, deadline, 0.2, 0.7)
        app.endorsed_at = clock
        t.move(APPLICATION, app, "endorse", commission, clock)
        app.updated_at = clock
        if recipe == "forwarded":
            return
        review = self.now if open_now else end_of_day(call.commission_deadline, tz)
        clock = (
            between(clock, self.now, 0.3, 0.8)
            if open_now
            else review + timedelta(days=rng.randint(3, 20), hours=rng.randint(0, 6))
        )
        t.move(APPLICATION, app, "start_review", self.institute, clock)
        app.updated_at = clock
        if recipe == "withdrawn_reviewed":
            clock += timedelta(days=rng.randint(5, 15))
            t.move(APPLICATION, app, "withdraw", city_actor, clock)
            app.updated_at = clock
            return
        if recipe == "under_review":
            return
        if recipe.endswith("_unannounced"):
            # Decided in the open call, told to nobody yet: a draft announcement holds it.
            clock = between(clock, self.now, 0.3, 0.8)
            app.decided_at = app.updated_at = clock
            if recipe == "not_admitted_unannounced":
                words = data.INSTITUTE_NOT_ADMITTED.get(lang, data.INSTITUTE_NOT_ADMITTED["en"])
                t.move(APPLICATION, app, "not_admit", self.institute, clock, words)
            else:
                t.move(APPLICATION, app, "admit", self.institute, clock)
            self.unannounced.append(app)
            return
        # The jury's decisions are announced together, some eight weeks after the deadline.
        announced = end_of_day(call.commission_deadline, tz) + timedelta(days=56, hours=8)
        clock = min(announced, self.now - timedelta(days=1))
        app.decided_at = clock
        app.announced_at = clock  # told on the day of the batch
        app.updated_at = clock
        self.announced.append((app, clock))
        if recipe == "not_admitted":
            words = data.INSTITUTE_NOT_ADMITTED.get(lang, data.INSTITUTE_NOT_ADMITTED["en"])
            t.move(APPLICATION, app, "not_admit", self.institute, clock, words)
            return
        t.move(APPLICATION, app, "admit", self.institute, clock)
        self.admitted.append((app, clock))

    # -- the jury -------------------------------------------------------------------

    def jury(self, current: Call) -> None:
        """The current call's review deadline (four weeks after the Commissions'), and two
        jurors of other countries for each of its forwarded and under-review
        applications: the first juror of every other one has scored it, one declined an
        assignment (a conflict of interest); the rest wait."""
        apps = list(
            self.session.scalars(
                select(Application)
                .where(
                    Application.call_id == current.id,
                    Application.state.in_([A.FORWARDED.value, A.UNDER_REVIEW.value]),
                )
                .order_by(Application.id)
            )
        )
        jurors = list(
            self.session.scalars(
                select(User).where(User.role == Role.JUROR.value).order_by(User.id)
            )
        )
        if not apps or not jurors:
            return
        current.review_deadline = current.commission_deadline + timedelta(days=28)
        load = Counter[int]()
        criteria = self.settings.jury.criteria
        for number, app in enumerate(apps):
            fit = [j for j in jurors if j.country_code != app.country_code]
            fit.sort(key=lambda j: (load[j.id], j.id))
            since = app.updated_at or self.now - timedelta(days=6)
            at = since + (self.now - since) / 4  # after the application's last step
            for rank, juror in enumerate(fit[:2]):
                load[juror.id] += 1
                record = JuryAssignment(
                    application_id=app.id,
                    juror_id=juror.id,
                    state="assigned",
                    assigned_at=at,
                    assigned_by=self.institute.user_id,
                )
                self.session.add(record)
                self.trail.start(ASSIGNMENT, record, "assign", self.institute, at)
                actor = Actor(Role.JUROR, juror.name, juror.id, juror.country_code)
                later = at + (self.now - at) / (2 + rank)
                if rank == 0 and number % 2 == 0:
                    for criterion in criteria:
                        self.session.add(
                            JuryScore(
                                assignment=record,
                                criterion=criterion,
                                score=self.rng.randint(2, 5),
                            )
                        )
                    record.scored_at = later
                    record.recommendation = "admit" if self.rng.random() < 0.7 else "not_admit"
                    record.comment = "A clear plan; the monitoring needs dates."
                    self.trail.move(ASSIGNMENT, record, "submit_scores", actor, later)
                elif rank == 1 and number == 1:
                    reason = "I advised this city on its plan last year."
                    record.declined_at = later
                    record.reason = reason
                    self.trail.move(ASSIGNMENT, record, "decline_assignment", actor, later, reason)
        self.session.flush()

    # -- memberships and reports ----------------------------------------------------

    def admit(self, app: Application, at: datetime) -> None:
        place = next(p for p in self.places.values() if p.city.id == app.city_id)
        day = local_date(at, app.call.timezone)
        membership = Membership(
            city_id=app.city_id,
            application_id=app.id,
            admitted_on=day,
            admission_year=day.year,
            reports_from=day,
            state_since=at,
        )
        self.session.add(membership)
        app_id = app.id
        self.trail.start(
            MEMBERSHIP, membership, "admit", self.institute, at, lambda: f"application {app_id}"
        )
        self.life(membership, place, at, "steady")

    def imported(self, members: list[_Place], previous: Call) -> None:
        first_year = previous.opens_on.year - len(MEMBERS_PER_YEAR)
        pool = iter(members)
        profiles = ["steady"] * 70 + ["struggling"] * 12 + ["lapsed"] * 12 + ["lapsed_removed"] * 4
        profiles += ["leaving"] * 2
        for offset, count in enumerate(MEMBERS_PER_YEAR):
            year = first_year + offset
            announced = datetime(year, 9, self.rng.randint(1, 25), 10, tzinfo=UTC)
            if year in ANNOUNCED_ON:
                real = ANNOUNCED_ON[year]
                announced = datetime(real.year, real.month, real.day, 10, tzinfo=UTC)
            self.history.append((year, announced))
            for _ in range(count):
                place = next(pool)
                key = (place.city.country_code, place.city.name)
                profile = self.rng.choice(profiles)
                if key == ("IE", "Cork"):
                    profile = "steady"
                elif key == ("LV", "Liepāja"):
                    profile = "returned_latest"
                day = announced.date()
                membership = Membership(
                    city_id=place.city.id,
                    application_id=None,
                    admitted_on=day,
                    admission_year=year,
                    reports_from=day,
                    state_since=announced,
                )
                self.session.add(membership)
                self.trail.start(
                    MEMBERSHIP, membership, "import", LOADER, announced, f"admitted {day}"
                )
                self.life(membership, place, announced, profile)

    def announcements(self, previous: Call, current: Call) -> None:
        """One published announcement per year of imported members (on its day; the 2020
        one corrected), one for the previous call's decisions, and a draft holding the
        open call's decided applications, for a newcomer to publish."""
        t = self.trail

        def published(title: str, at: datetime) -> Announcement:
            made = Announcement(title=title, date=at.date(), created_at=at, corrected=0)
            self.session.add(made)
            t.start(ANNOUNCEMENT, made, "create", self.institute, at - timedelta(days=7))
            made.published_at = at
            t.move(ANNOUNCEMENT, made, "publish", self.institute, at, title)
            return made

        for year, at in self.history:
            made = published(f"New members of the network, {year}", at)
            if year == CORRECTED_YEAR:
                fixed = at + timedelta(days=40)
                t.move(
                    ANNOUNCEMENT, made, "correct", self.institute, fixed,
                    "One city counted twice: 55 admissions announced, 54 in fact.",
                )  # fmt: skip
                made.corrected = 1
        if self.announced:
            at = max(clock for _, clock in self.announced)
            made = published(f"New members: call {previous.name}", at)
            self.session.flush()
            for app, _ in self.announced:
                app.announcement_id = made.id
        if self.unannounced:
            draft = Announcement(
                title=f"New members: call {current.name}", created_at=self.now, corrected=0
            )
            self.session.add(draft)
            t.start(ANNOUNCEMENT, draft, "create", self.institute, self.now - timedelta(hours=2))
            self.session.flush()
            for app in self.unannounced:
                app.announcement_id = draft.id

    def life(self, membership: Membership, place: _Place, admitted: datetime, profile: str) -> None:
        """Replay the member's years up to now: obligations, submissions, reviews and
        the scheduler's marks, each at its time, through the tables."""
        rng, t, now = self.rng, self.trail, self.now
        settings = self.settings.reports
        tz = self.zones[place.city.country_code]
        lang = place.language
        city = place.actor
        rule = report_rule(self.settings)
        lead = timedelta(days=settings.open_days_before)
        grace = timedelta(days=settings.grace_days)
        dues = [
            d
            for d in rule.due_dates(membership.admission_year, local_date(now, tz) + lead)
            if d >= membership.reports_from
        ]
        past = [d for d in dues if end_of_day(d, tz) <= now]
        stop = None
        if profile in ("lapsed", "lapsed_removed") and past:
            stop = rng.choice(past[-2:])
        queue: list[tuple[datetime, int, str, Any]] = []
        seq = 0

        def push(at: datetime, kind: str, what: Any = None) -> None:
            nonlocal seq
            seq += 1
            if at <= now:
                heapq.heappush(queue, (at, seq, kind, what))

        for due in dues:
            push(start_of_day(due - lead, tz), "create", due)
        if profile == "leaving":
            span = (now - admitted).days
            if span > 900:
                push(admitted + timedelta(days=rng.randint(800, span)), "withdraw")
        reports: dict[date, Report] = {}

        def current() -> bool:
            return membership.state in (M.ACTIVE, M.OVERDUE, M.INACTIVE)

        def plan_submission(due: date, created: datetime) -> None:
            if stop is not None and due >= stop:
                return
            on_time = {"steady": 0.93, "struggling": 0.5}.get(profile, 0.9)
            if profile == "returned_latest" or rng.random() < on_time:
                at = end_of_day(due, tz) - timedelta(
                    days=rng.randint(1, 50), hours=rng.randint(2, 9)
                )
                at = max(at, created + timedelta(days=3))
            elif profile == "struggling" and rng.random() < 0.2:
                return
            else:
                at = end_of_day(due, tz) + timedelta(days=rng.randint(5, 300), hours=10)
            push(at, "submit", due)

        while queue:
            at, _, kind, what = heapq.heappop(queue)
            if kind == "create":
                if not current():
                    continue
                report = Report(
                    due_on=what,
                    state=R.OPEN.value,
                    version=1,
                    summary="",
                    late=False,
                    created_at=at,
                )
                report.membership = membership
                self.session.add(report)
                reports[what] = report
                push(start_of_day(what + timedelta(days=1), tz), "due", what)
                plan_submission(what, at)
            elif kind == "due":
                report = reports[what]
                if report.state != R.OPEN.value or not current():
                    continue
                t.move(REPORT, report, "mark_overdue", SYSTEM, at, "past its due date")
                if membership.state == M.ACTIVE.value:
                    t.move(
                        MEMBERSHIP,
                        membership,
                        "mark_overdue",
                        SYSTEM,
                        at,
                        "a progress report is past due",
                    )
                    membership.state_since = at
                    push(start_of_day(what + grace + timedelta(days=1), tz), "inactive")
            elif kind == "inactive":
                overdue = [d for d, r in reports.items() if r.state == R.OVERDUE.value]
                if membership.state != M.OVERDUE.value or not overdue:
                    continue
                when = start_of_day(min(overdue) + grace + timedelta(days=1), tz)
                if when > at:
                    push(when, "inactive")
                    continue
                t.move(
                    MEMBERSHIP,
                    membership,
                    "mark_inactive",
                    SYSTEM,
                    at,
                    f"a progress report is more than {grace.days} days past due",
                )
                membership.state_since = at
                if profile == "lapsed_removed":
                    push(at + timedelta(days=rng.randint(60, 300)), "remove")
            elif kind == "submit":
                report = reports[what]
                if not current() or report.state not in (R.OPEN, R.OVERDUE, R.RETURNED):
                    continue
                report.summary = data.REPORT_SUMMARY[lang].format(
                    n=rng.randint(3, 40), k=rng.randint(10, 120)
                )
                report.submitted_at = at
                report.late = at >= end_of_day(what, tz)
                t.move(REPORT, report, "submit", city, at, "late" if report.late else "")
                pending = [
                    d
                    for d, r in reports.items()
                    if r.state in (R.OPEN, R.OVERDUE) and end_of_day(d, tz) <= at
                ]
                if membership.state in (M.OVERDUE, M.INACTIVE) and not pending:
                    t.move(MEMBERSHIP, membership, "restore", SYSTEM, at, "every due report is in")
                    membership.state_since = at
                review = at + timedelta(days=rng.randint(10, 110), hours=rng.randint(0, 5))
                if profile == "returned_latest" and past and what == past[-1]:
                    review = min(review, now - timedelta(hours=2))
                push(review, "review", what)
            elif kind == "review":
                report = reports[what]
                if report.state != R.SUBMITTED.value:
                    continue
                words = data.INSTITUTE_REPORT_RETURNED.get(
                    lang, data.INSTITUTE_REPORT_RETURNED["en"]
                )
                returned = rng.random() < 0.08
                if profile == "returned_latest" and past and what == past[-1]:
                    returned = True
                if returned:
                    t.move(REPORT, report, "return_for_revision", self.institute, at, words)
                    report.decided_at = at
                    if (
                        not (profile == "returned_latest" and what == past[-1])
                        and rng.random() < 0.6
                    ):
                        push(at + timedelta(days=rng.randint(7, 60)), "submit", what)
                else:
                    t.move(REPORT, report, "accept", self.institute, at)
                    report.decided_at = at
            elif kind == "remove" and current():
                words = data.INSTITUTE_REMOVED.get(lang, data.INSTITUTE_REMOVED["en"])
                t.move(MEMBERSHIP, membership, "remove", self.institute, at, words)
                membership.state_since = at
            elif kind == "withdraw" and current():
                t.move(MEMBERSHIP, membership, "withdraw", city, at)
                membership.state_since = at
