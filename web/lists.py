"""The two long lists, read narrowly: the Commission's queue and the member list.

Each page reads only the columns it shows, as plain rows (no ORM objects), through the
services' own scope filters (``applications._visible``, ``memberships._visible_members``),
so an actor sees here exactly what the service lists would show; the order is the
services' order too (tests/integration/test_lists.py compares them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session

from config import Settings
from web.queries import Page, page_of
from workflow.actors import Actor
from workflow.calendar import local_date
from workflow.machines import APPLICATION, Step
from workflow.models import Application, Call, City, Country, Membership, Report
from workflow.services import applications as apps
from workflow.services import memberships
from workflow.states import ApplicationState as A
from workflow.states import MembershipState as M
from workflow.states import ReportState as R


@dataclass(frozen=True)
class QueueLine:
    """One application in the queue, as the list shows it."""

    id: int
    city: str
    country_code: str
    call: str
    state: str
    route: str
    deadline: date
    quota: int
    quota_left: int
    actions: list[Step]


def queue_page(session: Session, actor: Actor, number: int) -> tuple[Page, list[QueueLine]]:
    """Page ``number`` of the applications the actor may see, those waiting for the actor
    first, soonest Commission deadline first (the order of ``list_applications``)."""
    pager = page_of(number, apps.count_applications(session, actor))
    scoped = apps._visible(actor, state=None, states=None, call=None, country=None)
    actionable = [s.value for s in A if APPLICATION.allowed(s.value, actor.role)]
    query = (
        scoped.with_only_columns(
            Application.id,
            City.name,
            Application.country_code,
            Call.name,
            Application.state,
            Application.route,
            Call.commission_deadline,
            Call.quota,
            Application.call_id,
        )
        .join(City, Application.city_id == City.id)
        .order_by(
            case((Application.state.in_(actionable), 0), else_=1),
            Call.commission_deadline,
            Application.id,
        )
        .limit(pager.size)
        .offset(pager.offset)
    )
    found = session.execute(query).all()
    used = apps.endorsements_by_call(session, {(r.call_id, r.country_code) for r in found})
    allowed = {state: APPLICATION.allowed(state, actor.role) for state in {r.state for r in found}}
    lines = [
        QueueLine(
            id=r.id,
            city=r[1],
            country_code=r.country_code,
            call=r[3],
            state=r.state,
            route=r.route,
            deadline=r.commission_deadline,
            quota=r.quota,
            quota_left=max(r.quota - used[(r.call_id, r.country_code)], 0),
            actions=allowed[r.state],
        )
        for r in found
    ]
    return pager, lines


@dataclass(frozen=True)
class MemberLine:
    """One member in the member list, with its reporting status."""

    id: int
    city: str
    country_code: str
    state: str
    admission_year: int
    overdue: int
    next_due: date | None


#: The order of ``list_members``: inactive, then overdue, then active, then the rest.
STANDING = (M.INACTIVE.value, M.OVERDUE.value, M.ACTIVE.value)
#: Reports the member still owes (as in ``queries._member_rows``).
WAITING = frozenset({R.OPEN.value, R.OVERDUE.value, R.RETURNED.value})


def member_page(
    session: Session, settings: Settings, actor: Actor, now: datetime, number: int
) -> tuple[Page, list[MemberLine]]:
    """Page ``number`` of the members the actor may see, in the order of
    ``list_members``. One GROUP BY counts each standing; each standing on the page is
    then read by city name on its own, so no CASE is computed over every member."""
    scoped = memberships._visible_members(actor, None)
    counts: dict[str, int] = {
        state: count
        for state, count in session.execute(
            scoped.with_only_columns(Membership.state, func.count()).group_by(Membership.state)
        )
    }
    pager = page_of(number, sum(counts.values()))
    standings: list[tuple[ColumnElement[bool], int]] = [
        (Membership.state == state, counts.get(state, 0)) for state in STANDING
    ]
    standings.append(
        (
            Membership.state.not_in(STANDING),
            sum(n for state, n in counts.items() if state not in STANDING),
        )
    )
    found: list[Any] = []
    skip, wanted = pager.offset, pager.size
    for where, size in standings:
        if wanted <= 0:
            break
        if skip >= size:
            skip -= size
            continue
        take = min(size - skip, wanted)
        found.extend(session.execute(_members_in(scoped, where, take, skip)))
        wanted -= take
        skip = 0
    return pager, _member_lines(session, settings, now, found)


def _members_in(
    scoped: Select[Membership], where: ColumnElement[bool], limit: int, offset: int
) -> Select[int, str, str, str, int, date]:
    return (
        scoped.with_only_columns(
            Membership.id,
            City.name,
            City.country_code,
            Membership.state,
            Membership.admission_year,
            Membership.reports_from,
        )
        .where(where)
        .order_by(City.name, Membership.id)
        .limit(limit)
        .offset(offset)
    )


def _member_lines(
    session: Session, settings: Settings, now: datetime, found: Sequence[Any]
) -> list[MemberLine]:
    """Overdue count and next due date of each member, from its waiting reports."""
    ids = [r.id for r in found]
    codes = {r.country_code for r in found}
    zones: dict[str, str] = {
        code: zone
        for code, zone in session.execute(
            select(Country.code, Country.timezone).where(Country.code.in_(codes))
        )
    }
    waiting: dict[int, list[date]] = {i: [] for i in ids}
    if ids:
        # The state is checked here, not in SQL: with it in the WHERE clause SQLite picks
        # the (state, due_on) index and walks every open report instead of 50 members'.
        reports = select(Report.membership_id, Report.due_on, Report.state).where(
            Report.membership_id.in_(ids)
        )
        for membership_id, due_on, state in session.execute(reports):
            if state in WAITING:
                waiting[membership_id].append(due_on)
    days: dict[str, date] = {}
    by_rule: dict[tuple[int, date, date], date] = {}
    lines = []
    for r in found:
        zone = zones.get(r.country_code, "UTC")
        today = days.get(zone) or days.setdefault(zone, local_date(now, zone))
        dues = waiting[r.id]
        upcoming = [d for d in dues if d >= today]
        if upcoming:
            next_due: date | None = min(upcoming)
        else:
            key = (r.admission_year, r.reports_from, today)
            if key not in by_rule:
                by_rule[key] = _next_by_rule(settings, r, today)
            next_due = by_rule[key]
        lines.append(
            MemberLine(
                id=r.id,
                city=r.name,
                country_code=r.country_code,
                state=r.state,
                admission_year=r.admission_year,
                overdue=sum(1 for d in dues if d < today),
                next_due=next_due,
            )
        )
    return lines


def _next_by_rule(settings: Settings, row: Any, today: date) -> date:
    # The service's rule, on a transient membership holding the two fields it reads.
    member = Membership(admission_year=row.admission_year, reports_from=row.reports_from)
    return memberships.next_due_date(settings, member, today)
