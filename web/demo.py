"""Demo data a newcomer can sign in with; loading it twice changes nothing.

Countries LV, FR, EE with their Commissions; cities Jelgava and Valmiera (LV), Lyon (FR),
Tartu (EE); Valmiera a member since 2016 with its progress reports; one user per role,
each with the password ``demo-password`` and no language yet (it takes the one its first
visitor signs in with). Every address is a demo one (the Commissions'
``office.<country>@demo.example.org``, the cities' ``<city>.<country>@demo.example.org``,
as in :mod:`web.demo_world`; the accounts' ``@example.org``): with SMTP configured, the
demo mails no real office. When no call is open at ``now``, a demo call open from a week
ago for two months is created, so a city can apply right away.
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from web.security import hash_password
from workflow.actors import Actor
from workflow.calendar import local_date
from workflow.db import transaction
from workflow.errors import WorkflowError
from workflow.models import City, Membership, Report, User
from workflow.services import calls as call_service
from workflow.services import directory, memberships, users
from workflow.states import ReportState, Role

log = logging.getLogger(__name__)

PASSWORD = "demo-password"
LOADER = Actor(Role.ADMIN, "demo data")
COUNTRIES = (
    (
        "LV",
        "Latvia",
        "Latvian National Commission for UNESCO",
        "office.lv@demo.example.org",
        "lv",
        "Europe/Riga",
    ),
    (
        "FR",
        "France",
        "Commission nationale française pour l'UNESCO",
        "office.fr@demo.example.org",
        "fr",
        "Europe/Paris",
    ),
    (
        "EE",
        "Estonia",
        "Estonian National Commission for UNESCO",
        "office.ee@demo.example.org",
        "en",
        "Europe/Tallinn",
    ),
)
CITIES = (
    (
        "LV",
        "Jelgava",
        "jelgava.lv@demo.example.org",
        "en",
        "Andris Rāviņš",
        "Mayor",
        "Ilze Bērziņa",
        55_000,
    ),
    (
        "LV",
        "Valmiera",
        "valmiera.lv@demo.example.org",
        "en",
        "Jānis Baiks",
        "Mayor",
        "Līga Ozola",
        23_000,
    ),
    (
        "FR",
        "Lyon",
        "lyon.fr@demo.example.org",
        "fr",
        "Grégory Doucet",
        "Maire",
        "Claire Martin",
        520_000,
    ),
    (
        "EE",
        "Tartu",
        "tartu.ee@demo.example.org",
        "en",
        "Urmas Klaas",
        "Mayor",
        "Kadri Tamm",
        97_000,
    ),
)
#: The Commissions' names per language (``workflow.names``): what the pages and the mail
#: of each language say; the Latvian one as the seed writes it.
COMMISSION_NAMES: dict[str, dict[str, str]] = {
    "LV": {
        "en": "Latvian National Commission for UNESCO",
        "fr": "Commission nationale lettone pour l'UNESCO",
        "lv": "UNESCO Latvijas Nacionālā komisija",
        "ru": "Национальная комиссия Латвии по делам ЮНЕСКО",
    },
    "FR": {
        "en": "French National Commission for UNESCO",
        "fr": "Commission nationale française pour l'UNESCO",
        "lv": "Francijas Nacionālā komisija UNESCO",
        "ru": "Национальная комиссия Франции по делам ЮНЕСКО",
    },
    "EE": {
        "en": "Estonian National Commission for UNESCO",
        "fr": "Commission nationale estonienne pour l'UNESCO",
        "lv": "Igaunijas Nacionālā komisija UNESCO",
        "ru": "Национальная комиссия Эстонии по делам ЮНЕСКО",
    },
}
#: The cities' names where a language writes them otherwise.
CITY_NAMES: dict[str, dict[str, str]] = {
    "Jelgava": {"ru": "Елгава"},
    "Valmiera": {"ru": "Валмиера"},
    "Lyon": {"lv": "Liona", "ru": "Лион"},
    "Tartu": {"ru": "Тарту"},
}
#: (email, name, role, country, city): one account per role.
USERS = (
    ("admin@example.org", "Ada Admin", "admin", None, None),
    ("institute@example.org", "Inès Institute", "institute", None, None),
    ("commission.lv@example.org", "Laura Commission LV", "commission", "LV", None),
    ("commission.fr@example.org", "François Commission FR", "commission", "FR", None),
    ("jelgava@example.org", "Jelgava focal point", "city", None, "Jelgava"),
    ("valmiera@example.org", "Valmiera focal point", "city", None, "Valmiera"),
    ("lyon@example.org", "Lyon focal point", "city", None, "Lyon"),
)
MEMBER_SINCE = date(2016, 9, 1)  # Valmiera joined in 2016 (seed)


def load_demo(
    factory: sessionmaker[Session], settings: Settings, now: datetime, *, world: bool = False
) -> None:
    """Create what is missing of the demo at ``now``; keep whatever exists.

    ``world`` adds the large demo world of ``web.demo_world`` (what ``gnlc serve`` loads:
    about 40 countries, 300 members, 60 applications, an account per role and language),
    once: loading it again changes nothing. Without it, the small world the tests build on.
    """
    with transaction(factory) as session:
        _places(session, now)
        _users(session, now)
        _member(session, settings, now)
    with transaction(factory) as session:
        _open_call(session, settings, now)
    if world:
        from web.demo_world import load_world

        started = time.monotonic()
        if load_world(factory, settings, now, hash_password(PASSWORD)):
            log.info("demo world loaded in %.1f s", time.monotonic() - started)


def _places(session: Session, now: datetime) -> None:
    for code, name, commission, email, lang, tz in COUNTRIES:
        directory.upsert_country(
            session,
            LOADER,
            code=code,
            name=name,
            commission_name=commission,
            commission_email=email,
            language=lang,
            timezone=tz,
            now=now,
            commission_names=COMMISSION_NAMES.get(code, {}),
        )
    for code, name, email, lang, mayor, title, contact, people in CITIES:
        exists = session.scalars(select(City).where(City.name == name)).first()
        if exists is not None:
            continue
        directory.upsert_city(
            session,
            LOADER,
            country_code=code,
            name=name,
            contact_email=email,
            language=lang,
            mayor_name=mayor,
            mayor_title=title,
            contact_name=contact,
            population=people,
            website=f"https://www.{name.lower()}.example",
            now=now,
            names=CITY_NAMES.get(name, {}),
        )


def _users(session: Session, now: datetime) -> None:
    password_hash = hash_password(PASSWORD)
    for email, name, role, country, city_name in USERS:
        if session.scalars(select(User).where(User.email == email)).first() is not None:
            continue
        city_id = None
        if city_name:
            city_id = session.scalars(select(City.id).where(City.name == city_name)).one()
        user = users.create_user(
            session,
            LOADER,
            email=email,
            name=name,
            role=role,
            country_code=country,
            city_id=city_id,
            password_hash=password_hash,
            now=now,
        )
        # No language yet: the account takes the one its first visitor reads the portal in
        # (web.accounts.adopt_language), so a French browser stays French once signed in.
        user.language = ""


def _member(session: Session, settings: Settings, now: datetime) -> None:
    """Valmiera, a member since 2016 whose earlier reports were accepted."""
    city = session.scalars(select(City).where(City.name == "Valmiera")).one()
    if session.scalars(select(Membership).where(Membership.city_id == city.id)).first():
        return
    membership = memberships.import_member(
        session, settings, LOADER, city, admitted_on=MEMBER_SINCE, now=now
    )
    # The demo shows a history: reports were owed from admission on, not from today.
    membership.reports_from = MEMBER_SINCE
    today = local_date(now, city.country.timezone)
    reports = memberships.ensure_reports(session, settings, membership, today=today, now=now)
    past = sorted((r for r in reports if r.due_on < today), key=lambda r: r.due_on)
    for number, report in enumerate(past):
        submitted = datetime(report.due_on.year, 3, 20, 10, tzinfo=now.tzinfo)
        report.submitted_at = submitted
        report.summary = f"Progress in {report.due_on.year}: learning festival, new adult courses."
        if number < len(past) - 1:
            report.state = ReportState.ACCEPTED.value
            report.decided_at = submitted + timedelta(days=30)
        else:
            report.state = ReportState.SUBMITTED.value  # waiting for the Institute
    session.flush()
    _ = Report  # the reports above are rows of this model


def _open_call(session: Session, settings: Settings, now: datetime) -> None:
    call = call_service.current_or_next(session, settings, now)
    if call is not None and call_service.window(call).contains(now):
        return
    today = local_date(now, settings.calls.timezone)
    try:
        call_service.create_call(
            session,
            settings,
            LOADER,
            name=f"demo-{today:%Y-%m}",
            opens_on=today - timedelta(days=7),
            closes_on=today + timedelta(days=60),
            now=now,
        )
    except WorkflowError as exc:  # e.g. it would overlap the annual call
        log.info("demo call not created: %s", exc)
