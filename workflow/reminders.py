"""Which reminder is due today, and the queries that find the subjects owed one.

A reminder *kind* (a draft's reminders, a report's reminders, ...) is a schedule of
rounds. A round starts on a local date and stays applicable until it ends. On any day at
most one round of a kind is due: the one that started last, if it has not ended. So a
scheduler that slept through d-60 and d-30 and wakes at d-20 sends d-30 only, and can
never send d-60 afterwards; a round whose time has passed (a d-7 reminder after the due
date) is never sent. The outbox key (subject, occasion, round, recipient) makes each
round go out once, whoever runs the sweep and however often.

The functions here only read and say nothing of mail: the sweep publishes each reminder
occasion (``workflow.events.Occasion``) and the installed handlers find who is owed one
(``notifications.reminders``) and write the outbox (recipients and context:
``notifications/table.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
from workflow.calendar import local_date
from workflow.models import Call, Country, Membership, Report
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


def report_occasion(found: Round) -> str:
    if found.name.startswith("d-"):
        return "report_reminder"
    return "report_due_today" if found.name == "due" else "report_overdue"


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
    session: Session, settings: Settings, days: Callable[[str], date | None]
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
