"""Calendar feeds, a read model: the dates a person's calendar shows, by role and scope.

Every date comes from the one place the domain computes it: a call's window and its
Commission deadline from :mod:`workflow.services.calls` (``window``, ``commission_window``),
a member's report due dates from :func:`workflow.member_views.due_dates_apart` (the
member's page's dates). This module only chooses which of them a feed shows:

- a **city**: the windows of the current and next calls while it is not a member (a
  member cannot apply again), and its own report due dates;
- a **National Commission**: the Commission deadline of each call, and the report due
  dates of its country's member cities;
- **the Institute** and administrators: each call's window and Commission deadline;
- a **juror**: the review deadline of each call they have assignments in.

A feed belongs to a user; what it shows is the user's role and scope (:data:`BUILDERS`):
a new role is one more builder. The portal turns the
entries into iCalendar (``web/feeds.py``) in the owner's language.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
from workflow.actors import Actor
from workflow.calendar import local_date
from workflow.member_views import due_dates_apart
from workflow.models import Application, Call, City, JuryAssignment, Membership
from workflow.services import calls
from workflow.services.memberships import CURRENT
from workflow.states import AssignmentState, Role
from workflow.visibility import visible_memberships

#: How long a passed date stays in a feed (so it does not vanish from a calendar the
#: day after), and how many due dates to come a feed shows per member.
KEEP_PAST = timedelta(days=366)
DUE_AHEAD = 3
#: The assignments that put a call's review deadline in a juror's feed: not declined.
JURY_OPEN = (AssignmentState.ASSIGNED.value, AssignmentState.SCORED.value)


class EntryKind(StrEnum):
    """What an entry is; its words are the catalogue ids ``calendar.<kind>.summary`` and
    ``calendar.<kind>.description``."""

    CALL_WINDOW = "call_window"  #: a call's window: cities apply (timed, the call's zone)
    COMMISSION_DEADLINE = "commission_deadline"  #: the last day of a call's Commissions
    REPORT_DUE = "report_due"  #: a member's progress report due (a date: all day)
    REVIEW_DEADLINE = "review_deadline"  #: the jury's scores of a call due (all day)


@dataclass(frozen=True)
class Entry:
    """One event of a feed.

    ``uid`` is stable for as long as the record lives (a calendar updates the event when
    a date moves, never duplicates it). A timed entry has ``starts``/``ends`` as aware
    UTC instants and the ``timezone`` they are said in; an all-day entry has ``day``.
    """

    uid: str
    kind: EntryKind
    timezone: str
    starts: datetime | None = None
    ends: datetime | None = None
    day: date | None = None
    call: Call | None = None
    membership: Membership | None = None

    @property
    def city(self) -> City | None:
        return self.membership.city if self.membership is not None else None


def _calls(session: Session, settings: Settings, now: datetime) -> list[Call]:
    """The calls a feed shows: those not cancelled whose Commission deadline has not passed
    more than :data:`KEEP_PAST` ago (the current and next ones are made first, as the
    city's start page does)."""
    calls.current_or_next(session, settings, now)
    since = local_date(now, settings.calls.timezone) - KEEP_PAST
    return list(
        session.scalars(
            select(Call)
            .where(Call.cancelled_at.is_(None), Call.commission_deadline >= since)
            .order_by(Call.opens_on, Call.id)
        )
    )


def _window(call: Call) -> Entry:
    win = calls.window(call)
    return Entry(
        f"call-{call.id}-window",
        EntryKind.CALL_WINDOW,
        call.timezone,
        starts=win.opens_at,
        ends=win.closes_at,
        call=call,
    )


def _commission_deadline(call: Call) -> Entry:
    """The deadline's last minute (23:59 to local midnight in the call's zone): the event
    sits on the deadline's day and ends at the instant the domain closes it."""
    closes = calls.commission_window(call).closes_at
    return Entry(
        f"call-{call.id}-commission-deadline",
        EntryKind.COMMISSION_DEADLINE,
        call.timezone,
        starts=closes - timedelta(minutes=1),
        ends=closes,
        call=call,
    )


def _due_dates(settings: Settings, membership: Membership, now: datetime) -> list[Entry]:
    zone = membership.city.country.timezone
    today = local_date(now, zone)
    dates = due_dates_apart(settings, membership, today, ahead=DUE_AHEAD)
    shown = [d for d in dates.past if d >= today - KEEP_PAST] + dates.upcoming
    return [
        Entry(
            f"membership-{membership.id}-report-{due.isoformat()}",
            EntryKind.REPORT_DUE,
            zone,
            day=due,
            membership=membership,
        )
        for due in shown
    ]


def _members(session: Session, actor: Actor) -> list[Membership]:
    query = visible_memberships(actor).where(Membership.state.in_([s.value for s in CURRENT]))
    return list(session.scalars(query.order_by(City.name, Membership.id)))


def _city(session: Session, settings: Settings, actor: Actor, now: datetime) -> list[Entry]:
    members = _members(session, actor)
    found = [] if members else [_window(c) for c in _calls(session, settings, now)]
    for membership in members:
        found.extend(_due_dates(settings, membership, now))
    return found


def _commission(session: Session, settings: Settings, actor: Actor, now: datetime) -> list[Entry]:
    found = [_commission_deadline(c) for c in _calls(session, settings, now)]
    for membership in _members(session, actor):
        found.extend(_due_dates(settings, membership, now))
    return found


def _institute(session: Session, settings: Settings, actor: Actor, now: datetime) -> list[Entry]:
    found: list[Entry] = []
    for call in _calls(session, settings, now):
        found.extend((_window(call), _commission_deadline(call)))
    return found


def _juror(session: Session, settings: Settings, actor: Actor, now: datetime) -> list[Entry]:
    """The review deadline of each call the juror has assignments in (not declined), a
    date in the call's timezone: an all-day event."""
    found = session.scalars(
        select(Call)
        .where(
            Call.cancelled_at.is_(None),
            Call.review_deadline.is_not(None),
            Call.id.in_(
                select(Application.call_id)
                .join(JuryAssignment, JuryAssignment.application_id == Application.id)
                .where(
                    JuryAssignment.juror_id == actor.user_id,
                    JuryAssignment.state.in_(JURY_OPEN),
                )
            ),
        )
        .order_by(Call.review_deadline, Call.id)
    )
    return [
        Entry(
            f"call-{call.id}-review-deadline",
            EntryKind.REVIEW_DEADLINE,
            call.timezone,
            day=call.review_deadline,
            call=call,
        )
        for call in found
        if call.review_deadline is not None
        and call.review_deadline >= local_date(now, call.timezone) - KEEP_PAST
    ]


Builder = Callable[[Session, Settings, Actor, datetime], list[Entry]]

#: What each role's feed shows (a role with none has an empty feed).
BUILDERS: dict[Role, Builder] = {
    Role.CITY: _city,
    Role.COMMISSION: _commission,
    Role.INSTITUTE: _institute,
    Role.ADMIN: _institute,
    Role.JUROR: _juror,
}


def entries(session: Session, settings: Settings, actor: Actor, now: datetime) -> list[Entry]:
    """The events of ``actor``'s feed at ``now``, in the actor's scope only."""
    builder = BUILDERS.get(actor.role)
    return builder(session, settings, actor, now) if builder is not None else []
