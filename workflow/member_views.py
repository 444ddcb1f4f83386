"""The read model of members, reports and cities (``workflow.views`` holds the pager
and the applications): what an actor may see, in which order, for pages, API and CLI.

- Members: ``member_lines``/``member_page``, inactive first, then overdue, then active,
  then the rest, by city name; ``member_row`` is one member with its reports.
- Reports: ``list_reports`` (obligations by due date) and ``reports_to_review``
  (submitted, oldest submission first).
- Cities: ``list_cities`` by country and name.

Lists read narrowly: the columns shown, the reports of the members on the page in one
query; never one query per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from config import Settings
from workflow.actors import Actor, require_role
from workflow.calendar import local_date
from workflow.machines import MEMBERSHIP, REPORT, Step
from workflow.models import City, Country, Membership, Report
from workflow.services import memberships
from workflow.services import reports as report_service
from workflow.states import MembershipState as M
from workflow.states import ReportState as R
from workflow.states import Role
from workflow.views import PER_PAGE, Page, check_country, page_of
from workflow.visibility import visible_cities, visible_memberships, visible_reports

# --- members -------------------------------------------------------------------------

#: The order of the member list: inactive, then overdue, then active, then the rest.
STANDING = (M.INACTIVE.value, M.OVERDUE.value, M.ACTIVE.value)
#: Reports the member still owes.
WAITING_REPORTS = frozenset({R.OPEN.value, R.OVERDUE.value, R.RETURNED.value})


@dataclass(frozen=True)
class MemberLine:
    """One member as the member list shows it, with its reporting status."""

    id: int
    city_id: int
    city: str
    country_code: str
    state: str
    admission_year: int
    admitted_on: date
    version: int
    overdue: int
    next_due: date | None


def count_members(session: Session, actor: Actor, *, state: str | None = None) -> int:
    query = visible_memberships(actor, state=state).with_only_columns(func.count())
    return session.scalar(query) or 0


def member_lines(
    session: Session,
    settings: Settings,
    actor: Actor,
    now: datetime,
    *,
    state: str | None = None,
    limit: int = PER_PAGE,
    offset: int = 0,
) -> list[MemberLine]:
    """Members the actor may see, ``limit`` from ``offset`` in the list's order."""
    scoped = visible_memberships(actor, state=state)
    counts = _standings(session, scoped)
    return _member_slice(session, settings, now, scoped, counts, limit, offset)


def member_page(
    session: Session, settings: Settings, actor: Actor, now: datetime, number: int
) -> tuple[Page, list[MemberLine]]:
    """Page ``number`` of ``member_lines``."""
    scoped = visible_memberships(actor)
    counts = _standings(session, scoped)
    pager = page_of(number, sum(counts.values()))
    lines = _member_slice(session, settings, now, scoped, counts, pager.size, pager.offset)
    return pager, lines


def _standings(session: Session, scoped: Select[Membership]) -> dict[str, int]:
    """How many members are in each state (one GROUP BY)."""
    query = scoped.with_only_columns(Membership.state, func.count()).group_by(Membership.state)
    return {state: count for state, count in session.execute(query)}


def _member_slice(
    session: Session,
    settings: Settings,
    now: datetime,
    scoped: Select[Membership],
    counts: dict[str, int],
    limit: int,
    offset: int,
) -> list[MemberLine]:
    """Each standing the slice reaches is read by city name on its own (an index walk),
    so no CASE is computed over every member."""
    standings: list[tuple[ColumnElement[bool], int]] = [
        (Membership.state == standing, counts.get(standing, 0)) for standing in STANDING
    ]
    standings.append(
        (
            Membership.state.not_in(STANDING),
            sum(n for standing, n in counts.items() if standing not in STANDING),
        )
    )
    found: list[Any] = []
    skip, wanted = offset, limit
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
    return _member_lines(session, settings, now, found)


def _members_in(
    scoped: Select[Membership], where: ColumnElement[bool], limit: int, offset: int
) -> Select[*tuple[Any, ...]]:
    return (
        scoped.with_only_columns(
            Membership.id,
            Membership.city_id,
            City.name,
            City.country_code,
            Membership.state,
            Membership.admission_year,
            Membership.admitted_on,
            Membership.version,
            Membership.reports_from,
            Country.timezone,
        )
        .join(Country, City.country_code == Country.code)
        .where(where)
        .order_by(City.name, Membership.id)
        .limit(limit)
        .offset(offset)
    )


def _status(
    settings: Settings, admission_year: int, reports_from: date, dues: list[date], today: date
) -> tuple[int, date | None]:
    """Reports overdue and the next due date, from the due dates of the reports owed."""
    upcoming = [d for d in dues if d >= today]
    if upcoming:
        return len(dues) - len(upcoming), min(upcoming)
    # The service's rule, on a transient membership holding the two fields it reads.
    member = Membership(admission_year=admission_year, reports_from=reports_from)
    return len(dues), memberships.next_due_date(settings, member, today)


def _member_lines(
    session: Session, settings: Settings, now: datetime, found: Sequence[Any]
) -> list[MemberLine]:
    ids = [r.id for r in found]
    waiting: dict[int, list[date]] = {i: [] for i in ids}
    if ids:
        # The state is checked here, not in SQL: with it in the WHERE clause SQLite picks
        # the (state, due_on) index and walks every open report instead of 50 members'.
        reports = select(Report.membership_id, Report.due_on, Report.state).where(
            Report.membership_id.in_(ids)
        )
        for membership_id, due_on, report_state in session.execute(reports):
            if report_state in WAITING_REPORTS:
                waiting[membership_id].append(due_on)
    days: dict[str, date] = {}
    known: dict[tuple[int, date, tuple[date, ...], date], tuple[int, date | None]] = {}
    lines = []
    for r in found:
        today = days.get(r.timezone) or days.setdefault(r.timezone, local_date(now, r.timezone))
        dues = waiting[r.id]
        key = (r.admission_year, r.reports_from, tuple(dues), today)
        if key not in known:
            known[key] = _status(settings, r.admission_year, r.reports_from, dues, today)
        overdue, next_due = known[key]
        lines.append(
            MemberLine(
                id=r.id,
                city_id=r.city_id,
                city=r.name,
                country_code=r.country_code,
                state=r.state,
                admission_year=r.admission_year,
                admitted_on=r.admitted_on,
                version=r.version,
                overdue=overdue,
                next_due=next_due,
            )
        )
    return lines


@dataclass
class MemberRow:
    """One member with its reports and the actions allowed now (the member's page)."""

    membership: Membership
    reports: list[Report]
    overdue: int
    next_due: date | None
    actions: list[Step]

    @property
    def id(self) -> int:
        return self.membership.id

    @property
    def city(self) -> str:
        return self.membership.city.name

    @property
    def country_code(self) -> str:
        return self.membership.city.country_code

    @property
    def state(self) -> str:
        return self.membership.state

    @property
    def admission_year(self) -> int:
        return self.membership.admission_year


def member_row(
    session: Session, settings: Settings, actor: Actor, membership_id: int, now: datetime
) -> MemberRow:
    """One member's row, after the service's scope check."""
    m = memberships.get_membership(session, actor, membership_id)
    reports = report_service.reports_of_many(session, [m.id])[m.id]
    today = local_date(now, m.city.country.timezone)
    dues = [r.due_on for r in reports if r.state in WAITING_REPORTS]
    overdue, next_due = _status(settings, m.admission_year, m.reports_from, dues, today)
    return MemberRow(
        membership=m,
        reports=reports,
        overdue=overdue,
        next_due=next_due,
        actions=MEMBERSHIP.allowed(m.state, actor.role),
    )


# --- reports -------------------------------------------------------------------------


def report_actions(report: Report, actor: Actor) -> list[Step]:
    return REPORT.allowed(report.state, actor.role)


def list_reports(session: Session, actor: Actor, *, state: str | None = None) -> list[Report]:
    """Report obligations the actor may see, by due date."""
    query = visible_reports(actor, state=state).order_by(Report.due_on, Report.id)
    return list(session.scalars(query))


def reports_to_review(session: Session, actor: Actor) -> list[Report]:
    """Submitted reports, the longest waiting first (the Institute's queue)."""
    require_role(actor, Role.INSTITUTE, Role.ADMIN, doing="review progress reports")
    query = visible_reports(actor, state=R.SUBMITTED.value).order_by(Report.submitted_at, Report.id)
    return list(session.scalars(query))


# --- cities --------------------------------------------------------------------------


def list_cities(session: Session, actor: Actor, *, country: str | None = None) -> list[City]:
    """Cities the actor may see, by country and name."""
    check_country(session, country)
    query = visible_cities(actor, country=country).order_by(City.country_code, City.name)
    return list(session.scalars(query))
