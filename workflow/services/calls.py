"""Calls for applications as data: generated from the annual rule, or set by an admin."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
from config.settings import check_timezone
from workflow.actors import Actor, require_role
from workflow.calendar import AnnualCallRule, Window, local_date
from workflow.db import dialect_insert
from workflow.errors import Conflict, InvalidInput, NotFound
from workflow.models import Call
from workflow.services.common import audit, check_version, flush, get
from workflow.states import Role


def annual_rule(settings: Settings) -> AnnualCallRule:
    c = settings.calls
    return AnnualCallRule(
        c.open_month, c.open_day, c.close_month, c.close_day, c.commission_deadline_days
    )


def window(call: Call) -> Window:
    return Window(call.opens_on, call.closes_on, call.timezone)


def is_cancelled(call: Call) -> bool:
    return call.cancelled_at is not None


def _calls_in_year(session: Session, year: int) -> list[Call]:
    return list(
        session.scalars(
            select(Call)
            .where(Call.opens_on >= date(year, 1, 1), Call.opens_on <= date(year, 12, 31))
            .order_by(Call.opens_on)
        )
    )


def ensure_year(session: Session, settings: Settings, year: int, now: datetime) -> list[Call]:
    """The calls of ``year``; when none is stored, the annual rule's call is created."""
    calls = _calls_in_year(session, year)
    if calls:
        return calls
    opens, closes, deadline = annual_rule(settings).dates(year)
    values = {
        "name": str(year),
        "opens_on": opens,
        "closes_on": closes,
        "commission_deadline": deadline,
        "quota": settings.calls.quota,
        "timezone": settings.calls.timezone,
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


def current_or_next(session: Session, settings: Settings, now: datetime) -> Call | None:
    """The call open at ``now``, else the next one to open (within two years)."""
    today = local_date(now, settings.calls.timezone)
    candidates: list[Call] = []
    for year in (today.year - 1, today.year, today.year + 1, today.year + 2):
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
        raise InvalidInput(f"The window closes ({closes_on}) before it opens ({opens_on}).")
    if deadline < closes_on:
        raise InvalidInput(
            f"The Commission deadline ({deadline}) must not be before the window closes "
            f"({closes_on})."
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
        raise InvalidInput(f"timezone: {exc}") from exc
    if quota is not None and quota < 1:
        raise InvalidInput("quota: expected a whole number of at least 1.")
    if session.scalars(select(Call).where(Call.name == name)).first() is not None:
        raise Conflict("call", name, "a call with this name exists; pick another name")
    for other in _calls_in_year(session, opens_on.year):
        if not is_cancelled(other) and other.opens_on <= closes_on and opens_on <= other.closes_on:
            raise InvalidInput(
                f"Call {other.name} ({other.opens_on} to {other.closes_on}) overlaps; "
                "extend or cancel it instead."
            )
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
    require_role(actor, Role.ADMIN, Role.INSTITUTE, doing="extend a call")
    call = get(session, Call, by_name(session, name).id, "call", lock=True)
    check_version(call, version, "call")
    if is_cancelled(call):
        raise InvalidInput(f"Call {name} was cancelled; create a new call instead.")
    new_close = closes_on or call.closes_on
    if new_close < call.closes_on:
        raise InvalidInput(
            f"An extension cannot end earlier: call {name} closes on {call.closes_on}."
        )
    shift = new_close - call.closes_on
    new_deadline = commission_deadline or call.commission_deadline + shift
    _check_dates(call.opens_on, new_close, new_deadline)
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
    require_role(actor, Role.ADMIN, Role.INSTITUTE, doing="cancel a call")
    call = get(session, Call, by_name(session, name).id, "call", lock=True)
    check_version(call, version, "call")
    if is_cancelled(call):
        raise InvalidInput(f"Call {name} is already cancelled.")
    if not reason.strip():
        raise InvalidInput("Say why the call is cancelled (--reason); cities will read it.")
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
