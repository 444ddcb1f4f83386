"""Calls for applications as data: generated from the annual rule, or set by an admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from config import Settings
from config.settings import check_timezone
from workflow.actors import Actor, require_role
from workflow.calendar import AnnualCallRule, Window, as_utc, local_date
from workflow.db import dialect_insert
from workflow.errors import CallOverlap, CallRefused, Conflict, NotFound
from workflow.models import Call
from workflow.services.common import audit, check_version, flush, get
from workflow.snapshots import CallView
from workflow.states import Role


def annual_rule(settings: Settings) -> AnnualCallRule:
    c = settings.calls
    return AnnualCallRule(
        c.open_month, c.open_day, c.close_month, c.close_day, c.commission_deadline_days
    )


def window(call: CallView) -> Window:
    return Window(call.opens_on, call.closes_on, call.timezone)


def is_cancelled(call: CallView) -> bool:
    return call.cancelled_at is not None


def _calls_in_year(session: Session, year: int) -> list[Call]:
    return list(
        session.scalars(
            select(Call)
            .where(Call.opens_on >= date(year, 1, 1), Call.opens_on <= date(year, 12, 31))
            .order_by(Call.opens_on)
        )
    )


# --- status -------------------------------------------------------------------------


class CallStatus(StrEnum):
    """Where a call stands at a moment, from its dates alone (and its cancellation)."""

    UPCOMING = "upcoming"  # the window has not opened yet
    OPEN = "open"  # cities submit
    CLOSED = "closed"  # the window has closed; the Commissions decide until their deadline
    FINISHED = "finished"  # the Commission deadline has passed
    CANCELLED = "cancelled"


def commission_window(call: Call) -> Window:
    """From the window's first day to the Commission deadline: the whole life of a call."""
    return Window(call.opens_on, call.commission_deadline, call.timezone)


def status(call: Call, now: datetime) -> CallStatus:
    """The one answer to "where does this call stand at ``now``" for pages, API and CLI."""
    if is_cancelled(call):
        return CallStatus.CANCELLED
    win = window(call)
    if as_utc(now) < win.opens_at:
        return CallStatus.UPCOMING
    if win.contains(now):
        return CallStatus.OPEN
    if commission_window(call).contains(now):
        return CallStatus.CLOSED
    return CallStatus.FINISHED


def can_extend_window(call: Call, now: datetime) -> bool:
    """A window may be made longer until it has closed (never re-opened after the fact)."""
    return status(call, now) in (CallStatus.UPCOMING, CallStatus.OPEN)


#: How long after its Commission deadline a call's deadline may still be moved later:
#: long enough to repair a deadline that Commissions missed for a reason (a holiday, an
#: outage), too short to reopen last year's call (docs/domain.md, "Calls").
LATE_EXTENSION = timedelta(days=30)


def can_extend_deadline(call: Call, now: datetime) -> bool:
    """The Commission deadline may move later until it has passed, and for
    :data:`LATE_EXTENSION` after that."""
    found = status(call, now)
    if found in (CallStatus.UPCOMING, CallStatus.OPEN, CallStatus.CLOSED):
        return True
    return found is CallStatus.FINISHED and (
        as_utc(now) < commission_window(call).closes_at + LATE_EXTENSION
    )


def can_cancel(call: Call, now: datetime) -> bool:
    """A call may be cancelled until its window closes; after that its applications are
    in, and the Commissions and the Institute decide them."""
    return status(call, now) in (CallStatus.UPCOMING, CallStatus.OPEN)


@dataclass(frozen=True)
class CallLine:
    """A call with its status and what may still be done with it, at one moment."""

    call: Call
    status: CallStatus
    can_extend_window: bool
    can_extend_deadline: bool
    can_cancel: bool


def line(call: Call, now: datetime) -> CallLine:
    return CallLine(
        call,
        status(call, now),
        can_extend_window(call, now),
        can_extend_deadline(call, now),
        can_cancel(call, now),
    )


# --- no two windows overlap ------------------------------------------------------------

#: The key of PostgreSQL's transaction-level advisory lock that serialises every change
#: of a call's window (create, extend, generate), so two of them cannot both pass the
#: overlap check (SQLite: the write lock every writing transaction takes at BEGIN).
CALLS_LOCK = 0x676E6C63  # "gnlc"
#: Timezones differ by at most 26 hours: a cheap pre-filter by calendar dates.
_ZONE_MARGIN = timedelta(days=2)


def lock_calls(session: Session) -> None:
    """Take the calls lock for the rest of the transaction (reentrant). Taken before any
    row lock of a call; nothing else waits for it (see workflow/services/common.py)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CALLS_LOCK})


def overlapping(
    session: Session, opens_on: date, closes_on: date, timezone: str, *, besides: int | None = None
) -> Call | None:
    """The first call not cancelled (other than ``besides``) whose window shares an
    instant with ``opens_on``..``closes_on`` in ``timezone``. A window ends when its last
    day ends (the Commission deadline is not part of it: a new call may open while the
    Commissions still decide the last one, whose applications stay in their own call)."""
    new = Window(opens_on, closes_on, timezone)
    candidates = session.scalars(
        select(Call)
        .where(
            Call.cancelled_at.is_(None),
            Call.opens_on <= closes_on + _ZONE_MARGIN,
            Call.closes_on >= opens_on - _ZONE_MARGIN,
        )
        .order_by(Call.opens_on)
    )
    for other in candidates:
        theirs = window(other)
        if (
            other.id != besides
            and theirs.opens_at < new.closes_at
            and new.opens_at < theirs.closes_at
        ):
            return other
    return None


def _refuse_overlap(
    session: Session, name: str, opens_on: date, closes_on: date, timezone: str,
    besides: int | None = None,
) -> None:  # fmt: skip
    other = overlapping(session, opens_on, closes_on, timezone, besides=besides)
    if other is not None:
        raise CallOverlap(name, other.name, other.opens_on, other.closes_on, other.timezone)


def ensure_year(session: Session, settings: Settings, year: int, now: datetime) -> list[Call]:
    """The calls of ``year``; when none is stored, the annual rule's call is created,
    unless its window would overlap a stored call (then the year has none)."""
    calls = _calls_in_year(session, year)
    if calls:
        return calls
    opens, closes, deadline = annual_rule(settings).dates(year)
    tz = settings.calls.timezone
    if overlapping(session, opens, closes, tz) is not None:
        return calls  # checked without the lock first: most reads end here
    lock_calls(session)
    if _calls_in_year(session, year) or overlapping(session, opens, closes, tz) is not None:
        return _calls_in_year(session, year)
    values = {
        "name": str(year),
        "opens_on": opens,
        "closes_on": closes,
        "commission_deadline": deadline,
        "quota": settings.calls.quota,
        "timezone": tz,
        "generated": True,
        "cancel_reason": "",
        "created_at": now,
        "version": 1,
    }
    # Several processes may generate the same year at once: the name is unique, the
    # first insert wins and the others read its row.
    session.execute(
        dialect_insert(session)(Call)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return _calls_in_year(session, year)


def shown_years(settings: Settings, now: datetime) -> range:
    """The years whose calls the pages and lists show: last year to two years ahead."""
    today = local_date(now, settings.calls.timezone)
    return range(today.year - 1, today.year + 3)


def to_generate(session: Session, settings: Settings, now: datetime) -> list[int]:
    """The shown years whose annual call :func:`ensure_year` would still create. Only
    reads: a page view asks this in its read-only transaction and, in the rare case the
    answer is not empty, lets :func:`ensure_shown` write first."""
    tz = settings.calls.timezone
    years = shown_years(settings, now)
    # One narrow query for the years that have a call (a page view asks this each time).
    present = {
        day.year
        for day in session.scalars(
            select(Call.opens_on).where(
                Call.opens_on >= date(years[0], 1, 1), Call.opens_on <= date(years[-1], 12, 31)
            )
        )
    }
    missing = []
    for year in years:
        if year in present:
            continue
        opens, closes, _ = annual_rule(settings).dates(year)
        if overlapping(session, opens, closes, tz) is None:
            missing.append(year)
    return missing


def ensure_shown(session: Session, settings: Settings, now: datetime) -> None:
    """Create the annual calls of the shown years that are missing (see :func:`to_generate`)."""
    for year in shown_years(settings, now):
        ensure_year(session, settings, year, now)


def current_or_next(session: Session, settings: Settings, now: datetime) -> Call | None:
    """The call open at ``now``, else the next one to open (within two years)."""
    candidates: list[Call] = []
    for year in shown_years(settings, now):
        candidates.extend(ensure_year(session, settings, year, now))
    live = [c for c in candidates if not is_cancelled(c)]
    for call in live:
        if window(call).contains(now):
            return call
    upcoming = [c for c in live if window(c).opens_at > now]
    return min(upcoming, key=lambda c: c.opens_on) if upcoming else None


def list_calls(session: Session, settings: Settings, now: datetime, years: int = 1) -> list[Call]:
    """Stored calls, after making sure this year's and the next ``years`` exist."""
    today = local_date(now, settings.calls.timezone)
    for year in range(today.year, today.year + years + 1):
        ensure_year(session, settings, year, now)
    return list(session.scalars(select(Call).order_by(Call.opens_on)))


def by_name(session: Session, name: str) -> Call:
    call = session.scalars(select(Call).where(Call.name == name)).first()
    if call is None:
        raise NotFound("call", name)
    return call


def _check_dates(opens_on: date, closes_on: date, deadline: date) -> None:
    if closes_on < opens_on:
        raise CallRefused(
            "closes_before_opens",
            f"The window closes ({closes_on:%d %B %Y}) before it opens ({opens_on:%d %B %Y}).",
            opens=opens_on,
            closes=closes_on,
        )
    if deadline < closes_on:
        raise CallRefused(
            "deadline_before_close",
            f"The Commission deadline ({deadline:%d %B %Y}) must not be before the window closes "
            f"({closes_on:%d %B %Y}).",
            deadline=deadline,
            closes=closes_on,
        )


def create_call(
    session: Session,
    settings: Settings,
    actor: Actor,
    *,
    name: str,
    opens_on: date,
    closes_on: date,
    now: datetime,
    commission_deadline: date | None = None,
    quota: int | None = None,
    timezone: str | None = None,
) -> Call:
    require_role(actor, Role.ADMIN, Role.INSTITUTE, doing="create a call")
    deadline = commission_deadline or closes_on + timedelta(
        days=settings.calls.commission_deadline_days
    )
    _check_dates(opens_on, closes_on, deadline)
    tz = timezone or settings.calls.timezone
    try:
        check_timezone(tz)
    except ValueError as exc:
        raise CallRefused("timezone", f"timezone: {exc}", timezone=tz) from exc
    if quota is not None and quota < 1:
        raise CallRefused("quota", "quota: expected a whole number of at least 1.", quota=quota)
    lock_calls(session)
    if session.scalars(select(Call).where(Call.name == name)).first() is not None:
        raise Conflict("call", name, "a call with this name exists; pick another name")
    _refuse_overlap(session, name, opens_on, closes_on, tz)
    call = Call(
        name=name,
        opens_on=opens_on,
        closes_on=closes_on,
        commission_deadline=deadline,
        quota=quota or settings.calls.quota,
        timezone=tz,
        generated=False,
        created_at=now,
    )
    session.add(call)
    flush(session, "call", name)
    audit(
        session,
        actor,
        subject_type="call",
        subject_id=call.id,
        action="create",
        now=now,
        comment=f"{opens_on} to {closes_on}, deadline {deadline}, quota {call.quota}, {tz}",
    )
    return call


def _locked(session: Session, name: str, version: int | None) -> Call:
    lock_calls(session)  # before the row: the one order of every change of a call
    call = get(session, Call, by_name(session, name).id, "call", lock=True)
    check_version(call, version, "call")
    return call


def extend_call(
    session: Session,
    actor: Actor,
    name: str,
    *,
    now: datetime,
    closes_on: date | None = None,
    commission_deadline: date | None = None,
    version: int | None = None,
    comment: str = "",
) -> Call:
    """Make the window longer (until it has closed) and/or the Commission deadline later
    (until it has passed); the longer window must not overlap another call's."""
    require_role(actor, Role.ADMIN, Role.INSTITUTE, doing="extend a call")
    call = _locked(session, name, version)
    state = status(call, now)
    if state is CallStatus.CANCELLED:
        raise CallRefused(
            "cancelled", f"Call {name} was cancelled; create a new call instead.", call=name
        )
    new_close = closes_on or call.closes_on
    if new_close < call.closes_on:
        raise CallRefused(
            "ends_earlier",
            f"An extension cannot end earlier: call {name} closes on {call.closes_on:%d %B %Y}.",
            call=name,
            closes=call.closes_on,
        )
    if new_close != call.closes_on and not can_extend_window(call, now):
        raise CallRefused(
            "window_closed",
            f"The window of call {name} closed on {call.closes_on:%d %B %Y}: it cannot be extended "
            "after the fact. Create a new call instead.",
            call=name,
            closes=call.closes_on,
        )
    if not can_extend_deadline(call, now):
        raise CallRefused(
            "finished",
            f"Call {name} is finished: its Commission deadline "
            f"({call.commission_deadline:%d %B %Y}) has passed. Create a new call instead.",
            call=name,
            deadline=call.commission_deadline,
        )
    shift = new_close - call.closes_on
    new_deadline = commission_deadline or call.commission_deadline + shift
    if new_deadline < call.commission_deadline:
        raise CallRefused(
            "deadline_earlier",
            f"An extension cannot end earlier: the Commission deadline of call {name} is "
            f"{call.commission_deadline:%d %B %Y}.",
            call=name,
            deadline=call.commission_deadline,
        )
    _check_dates(call.opens_on, new_close, new_deadline)
    if new_close != call.closes_on:
        _refuse_overlap(session, name, call.opens_on, new_close, call.timezone, besides=call.id)
    before = f"closes {call.closes_on}, deadline {call.commission_deadline}"
    call.closes_on, call.commission_deadline = new_close, new_deadline
    flush(session, "call", name)
    audit(
        session,
        actor,
        subject_type="call",
        subject_id=call.id,
        action="extend",
        now=now,
        comment=f"{before} -> closes {new_close}, deadline {new_deadline}. {comment}".strip(),
    )
    return call


def cancel_call(
    session: Session,
    actor: Actor,
    name: str,
    *,
    now: datetime,
    reason: str,
    version: int | None = None,
) -> Call:
    """Cancel a call until its window closes (see :func:`can_cancel`)."""
    require_role(actor, Role.ADMIN, Role.INSTITUTE, doing="cancel a call")
    call = _locked(session, name, version)
    state = status(call, now)
    if state is CallStatus.CANCELLED:
        raise CallRefused("already_cancelled", f"Call {name} is already cancelled.", call=name)
    if not can_cancel(call, now):
        raise CallRefused(
            "cannot_cancel",
            f"Call {name} can no longer be cancelled: its window closed on "
            f"{call.closes_on:%d %B %Y} and its applications are being decided.",
            call=name,
            closes=call.closes_on,
        )
    if not reason.strip():
        raise CallRefused(
            "reason_required", "Say why the call is cancelled; cities will read it.", call=name
        )
    call.cancelled_at = now
    call.cancel_reason = reason.strip()
    flush(session, "call", name)
    audit(
        session,
        actor,
        subject_type="call",
        subject_id=call.id,
        action="cancel",
        now=now,
        comment=reason.strip(),
    )
    return call
