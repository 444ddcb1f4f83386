"""Which reminder is due today, and the queries that find the subjects owed one.

A reminder *kind* (a draft's reminders, a report's reminders, ...) is a schedule of
rounds. A round starts on a local date and stays applicable until it ends. On any day at
most one round of a kind is due: the one that started last, if it has not ended. So a
scheduler that slept through d-60 and d-30 and wakes at d-20 sends d-30 only, and can
never send d-60 afterwards; a round whose time has passed (a d-7 reminder after the due
date) is never sent. The outbox key (subject, occasion, round, recipient) makes each
round go out once, whoever runs the sweep and however often.

The functions here only read; the sweep writes. Context keys: see :mod:`workflow.sweep`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from sqlalchemy import String, cast, exists, func, literal, select
from sqlalchemy.orm import Session

from config import Settings
from notifications.outbox import Owed
from notifications.recipients import Addressing, Recipient
from workflow.calendar import local_date
from workflow.models import Application, Call, City, Country, Membership, OutboxMessage, Report
from workflow.states import ApplicationState as A
from workflow.states import MembershipState as M
from workflow.states import ReportState as R

#: A city with an application in one of these states needs no "the window is open" mail.
LIVE = (A.DRAFT, A.SUBMITTED, A.RETURNED, A.FORWARDED, A.UNDER_REVIEW, A.ADMITTED)
#: Members: reports are owed, and they are not invited to apply.
CURRENT = (M.ACTIVE, M.OVERDUE, M.INACTIVE)
#: Members still reminded about their reports (an inactive one got its last notice).
REMINDED = (M.ACTIVE, M.OVERDUE)
PENDING_REPORT = (R.OPEN, R.OVERDUE)
log = logging.getLogger("gnlc.sweep")


class LocalDays:
    """Today's date in each timezone, computed once per sweep. A zone that cannot be
    resolved (a broken row) is logged once and its subjects are skipped, not the sweep."""

    def __init__(self, now: datetime, errors: list[str]) -> None:
        self.now = now
        self.errors = errors
        self._known: dict[str, date | None] = {}

    def __call__(self, timezone: str) -> date | None:
        if timezone not in self._known:
            try:
                self._known[timezone] = local_date(self.now, timezone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                log.error("unknown timezone %r: its subjects are skipped (%s)", timezone, exc)
                self.errors.append(f"unknown timezone {timezone!r}: its subjects were skipped")
                self._known[timezone] = None
        return self._known[timezone]


@dataclass(frozen=True)
class Round:
    """One reminder of a schedule: applicable from ``starts`` to ``ends`` (local dates)."""

    name: str
    starts: date
    ends: date
    days_overdue: int = 0


def due_round(rounds: Iterable[Round], today: date) -> Round | None:
    """The round due on ``today``: the last one started, unless it has already ended."""
    started = [r for r in rounds if r.starts <= today]
    if not started:
        return None
    last = max(started, key=lambda r: r.starts)
    return last if today <= last.ends else None


def days_before(
    target: date, offsets: Sequence[int], *, last_day: date | None = None
) -> list[Round]:
    """Rounds ``d-N`` at N days before ``target``, applicable until ``last_day``."""
    end = target if last_day is None else last_day
    return [Round(f"d-{n}", target - timedelta(days=n), end) for n in sorted(set(offsets)) if n > 0]


def report_rounds(due: date, settings: Settings) -> list[Round]:
    """d-N before the due date, the due day itself, then every few days while overdue.

    Overdue notices stop once the grace period ends: the membership becomes inactive and
    gets its own notice instead.
    """
    r = settings.reports
    rounds = days_before(due, r.reminder_days_before, last_day=due - timedelta(days=1))
    rounds.append(Round("due", due, due))
    last = due + timedelta(days=r.grace_days)
    number = 1
    while (start := due + timedelta(days=1 + (number - 1) * r.overdue_every_days)) <= last:
        rounds.append(Round(f"overdue-{number}", start, last, (start - due).days))
        number += 1
    return rounds


def escalated(found: Round, settings: Settings) -> bool:
    """Overdue for long enough that the Commission is copied."""
    return found.name.startswith("overdue-") and (
        found.days_overdue >= settings.reports.escalate_after_days
    )


def portal(settings: Settings, path: str) -> str:
    return f"{settings.web.public_url.rstrip('/')}/{path.lstrip('/')}"


def city_recipient(name: str, email: str, contact: str, language: str) -> Recipient:
    return Recipient(email, contact or name, language)


def commission_recipient(country: Country) -> Recipient:
    return Recipient(country.commission_email, country.commission_name, country.language)


def unsent(subject_type: str, subject_id: Any, occasion: str, rnd: str, address: Any) -> Any:
    """SQL: no outbox row has this message's key yet (the key as ``message_key`` builds
    it), so a sweep with nothing new to say reads no rows."""
    key = (
        literal(f"{subject_type}:", String)
        + cast(subject_id, String)
        + literal(f":{occasion}:{rnd}:", String)
        + func.lower(address)
    )
    return ~exists().where(OutboxMessage.key == key)


def live_calls(session: Session, now: datetime) -> list[Call]:
    """Calls not cancelled whose Commission deadline has not long passed."""
    horizon = now.date() - timedelta(days=2)
    return list(
        session.scalars(
            select(Call)
            .where(Call.cancelled_at.is_(None), Call.commission_deadline >= horizon)
            .order_by(Call.opens_on)
        )
    )


def call_context(call: Call, settings: Settings) -> dict[str, Any]:
    return {
        "call": call.name,
        "opens_on": call.opens_on,
        "closes_on": call.closes_on,
        "commission_deadline": call.commission_deadline,
        "timezone": call.timezone,
        "quota": call.quota,
        "network": settings.network.name,
        "url": portal(settings, "/"),
    }


def call_opened(session: Session, settings: Settings, days: LocalDays) -> list[Owed]:
    """Each open call: every Commission, and every city that is neither a member nor
    already applying in it."""
    owed: list[Owed] = []
    for call in live_calls(session, days.now):
        today = days(call.timezone)
        if today is None or not call.opens_on <= today <= call.closes_on:
            continue
        context = call_context(call, settings)
        for country in session.scalars(select(Country).order_by(Country.code)):
            rec = commission_recipient(country)
            owed.append(
                Owed(
                    "call_opened",
                    "call",
                    call.id,
                    Addressing(to=(rec,)),
                    {**context, "audience": "commission", "name": country.commission_name},
                    round="open",
                )
            )
        member = exists().where(
            Membership.city_id == City.id, Membership.state.in_([s.value for s in CURRENT])
        )
        applying = exists().where(
            Application.city_id == City.id,
            Application.call_id == call.id,
            Application.state.in_([s.value for s in LIVE]),
        )
        rows = session.execute(
            select(City.id, City.name, City.contact_email, City.contact_name, City.language)
            .where(
                ~member,
                ~applying,
                unsent("call", literal(call.id), "call_opened", "open", City.contact_email),
            )
            .order_by(City.id)
        )
        for _, name, email, contact, language in rows:
            owed.append(
                Owed(
                    "call_opened",
                    "call",
                    call.id,
                    Addressing(to=(city_recipient(name, email, contact, language),)),
                    {**context, "audience": "city", "name": name},
                    round="open",
                )
            )
    return owed


def draft_reminders(session: Session, settings: Settings, days: LocalDays) -> list[Owed]:
    """Drafts before their window closes; returned applications before the deadline.

    The round depends only on the call and the state, so one query per (call, state)
    with a round due returns the applications not yet reminded.
    """
    offsets = settings.applications.draft_reminder_days_before_close
    owed: list[Owed] = []
    for call in live_calls(session, days.now) if offsets else []:
        today = days(call.timezone)
        if today is None or today < call.opens_on:
            continue
        for state, target in (
            (A.DRAFT.value, call.closes_on),
            (A.RETURNED.value, call.commission_deadline),
        ):
            found = due_round(days_before(target, offsets), today)
            if found is None:
                continue
            # The target date is part of the round: an extended call reminds again.
            rnd = f"{state}-{found.name}@{target.isoformat()}"
            rows = session.execute(
                select(
                    Application.id,
                    City.name,
                    City.contact_email,
                    City.contact_name,
                    City.language,
                )
                .join(City, Application.city_id == City.id)
                .where(
                    Application.call_id == call.id,
                    Application.state == state,
                    unsent(
                        "application", Application.id, "draft_reminder", rnd, City.contact_email
                    ),
                )
                .order_by(Application.id)
            ).all()
            shared = (state, rnd, call.id, today)
            for app_id, name, email, contact, language in rows:
                owed.append(
                    Owed(
                        "draft_reminder",
                        "application",
                        app_id,
                        Addressing(to=(city_recipient(name, email, contact, language),)),
                        {
                            **call_context(call, settings),
                            "application_id": app_id,
                            "city": name,
                            "returned": state == A.RETURNED.value,
                            "deadline": target,
                            "days_left": (target - today).days,
                            "url": portal(settings, f"/applications/{app_id}"),
                        },
                        round=rnd,
                        extra={"shared": shared},
                    )
                )
    return owed


def commission_reminders(session: Session, settings: Settings, days: LocalDays) -> list[Owed]:
    """One message per Commission listing its applications still undecided."""
    offsets = settings.applications.commission_reminder_days_before_deadline
    owed: list[Owed] = []
    for call in live_calls(session, days.now):
        today = days(call.timezone)
        if today is None:
            continue
        found = due_round(days_before(call.commission_deadline, offsets), today)
        if found is None:
            continue
        rows = session.execute(
            select(Application.id, Application.submitted_at, City.name, Country)
            .join(City, Application.city_id == City.id)
            .join(Country, City.country_code == Country.code)
            .where(Application.call_id == call.id, Application.state == A.SUBMITTED.value)
            .order_by(Country.code, City.name, Application.id)
        )
        pending: dict[str, tuple[Country, list[dict[str, Any]]]] = {}
        for app_id, submitted_at, city_name, country in rows:
            entry = pending.setdefault(country.code, (country, []))
            entry[1].append(
                {
                    "application_id": app_id,
                    "city": city_name,
                    "submitted_on": local_date(submitted_at or days.now, call.timezone),
                    "url": portal(settings, f"/applications/{app_id}"),
                }
            )
        for code, (country, items) in pending.items():
            owed.append(
                Owed(
                    "commission_reminder",
                    "call",
                    call.id,
                    Addressing(to=(commission_recipient(country),)),
                    {
                        **call_context(call, settings),
                        "commission": country.commission_name,
                        "country": country.name,
                        "pending": items,
                        "days_left": (call.commission_deadline - today).days,
                        "url": portal(settings, "/applications"),
                    },
                    round=f"{code}-{found.name}@{call.commission_deadline.isoformat()}",
                )
            )
    return owed


def report_occasion(found: Round) -> str:
    if found.name.startswith("d-"):
        return "report_reminder"
    return "report_due_today" if found.name == "due" else "report_overdue"


def report_reminders(session: Session, settings: Settings, days: LocalDays) -> list[Owed]:
    """Every report reminder due today and not yet in the outbox."""
    return list(iter_report_reminders(session, settings, days))


@dataclass(frozen=True)
class ReportRound:
    """Reports sharing a due date and a reminder round today (in one or more zones)."""

    due: date
    found: Round
    todays: dict[str, date]  # each zone of the group and its local date today

    @property
    def occasion(self) -> str:
        return report_occasion(self.found)


def report_round_groups(
    session: Session, settings: Settings, days: LocalDays
) -> tuple[list[ReportRound], dict[str, Country]]:
    """The report reminder rounds due today: a handful, whatever the number of members."""
    r = settings.reports
    countries = {c.code: c for c in session.scalars(select(Country))}
    todays = {c.timezone: days(c.timezone) for c in countries.values()}
    known = [d for d in todays.values() if d is not None]
    if not known:
        return [], countries
    ahead = max([n for n in r.reminder_days_before if n > 0], default=0)
    dues = session.scalars(
        select(Report.due_on)
        .join(Membership, Report.membership_id == Membership.id)
        .where(
            *report_pending(),
            Report.due_on <= max(known) + timedelta(days=ahead),
            Report.due_on >= min(known) - timedelta(days=r.grace_days + 1),
        )
        .distinct()
    ).all()
    groups: dict[tuple[date, Round], dict[str, date]] = {}
    for due in sorted(dues):
        rounds = report_rounds(due, settings)
        for tz, today in todays.items():
            found = None if today is None else due_round(rounds, today)
            if found is not None and today is not None:
                groups.setdefault((due, found), {})[tz] = today
    return [ReportRound(due, found, zones) for (due, found), zones in groups.items()], countries


def report_pending() -> tuple[Any, Any]:
    """SQL: a report still owed by a member still reminded."""
    return (
        Report.state.in_([s.value for s in PENDING_REPORT]),
        Membership.state.in_([s.value for s in REMINDED]),
    )


def iter_report_reminders(session: Session, settings: Settings, days: LocalDays) -> Iterator[Owed]:
    """Report reminders before, on and after the due date, Cc the Commission late on, as
    ``Owed`` items (the sweep itself inserts them set-based: ``sweep_mail``)."""
    groups, countries = report_round_groups(session, settings, days)
    for group in groups:
        occasion = group.occasion
        found = group.found
        missing = unsent("report", Report.id, occasion, found.name, City.contact_email)
        if escalated(found, settings):
            missing = missing | unsent(
                "report", Report.id, occasion, found.name, Country.commission_email
            )
        rows = session.execute(
            select(
                Report.id,
                Report.due_on,
                City.name,
                City.contact_email,
                City.contact_name,
                City.language,
                City.country_code,
            )
            .join(Membership, Report.membership_id == Membership.id)
            .join(City, Membership.city_id == City.id)
            .join(Country, City.country_code == Country.code)
            .where(
                *report_pending(),
                Report.due_on == group.due,
                Country.timezone.in_(list(group.todays)),
                missing,
            )
            .order_by(Report.id)
        )
        for row in rows.all():  # read them all before the sweep writes outbox rows
            country = countries[row.country_code]
            yield _report_owed(row, settings, country, group.todays[country.timezone], found)


def _report_owed(
    row: Sequence[Any], settings: Settings, country: Country, today: date, found: Round
) -> Owed:
    report_id, due, name, email, contact, language, _ = row
    occasion = report_occasion(found)
    escalate = escalated(found, settings)
    city = city_recipient(name, email, contact, language)
    addressing = Addressing(to=(city,), cc=(commission_recipient(country),) if escalate else ())
    return Owed(
        occasion,
        "report",
        report_id,
        addressing,
        {
            "report_id": report_id,
            "city": name,
            "country": country.name,
            "commission": country.commission_name,
            "due_on": due,
            "timezone": country.timezone,
            "days_left": (due - today).days,
            "days_overdue": max((today - due).days, 0),
            "escalated": escalate,
            "grace_until": due + timedelta(days=settings.reports.grace_days),
            "network": settings.network.name,
            "url": portal(settings, f"/reports/{report_id}"),
        },
        round=found.name,
    )
