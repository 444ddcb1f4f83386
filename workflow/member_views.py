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
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, true
from sqlalchemy.orm import Session

from config import Settings
from workflow.actors import Actor, require_role
from workflow.calendar import local_date
from workflow.machines import MEMBERSHIP, REPORT, Step
from workflow.models import Application, AuditEvent, Call, City, Country, Membership, Report
from workflow.services import memberships
from workflow.services import reports as report_service
from workflow.states import ApplicationState as A
from workflow.states import MembershipState as M
from workflow.states import ReportState as R
from workflow.states import Role
from workflow.views import PER_PAGE, Page, check_country, page_of, sorted_by
from workflow.visibility import (
    counted_memberships,
    counted_reports,
    name_matches,
    seen_state,
    visible_applications,
    visible_cities,
    visible_memberships,
    visible_reports,
)

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


@dataclass(frozen=True)
class MemberFilter:
    """What narrows a member list, for pages, API and CLI alike: ``search`` part of the
    city's name, ``year`` the admission year, ``sort`` a key of ``MEMBER_SORTS`` (``-key``
    descending) in place of the standing order."""

    state: str | None = None
    country: str | None = None
    search: str | None = None
    year: int | None = None
    sort: str | None = None


#: The columns a member list can be sorted by.
MEMBER_SORTS: dict[str, ColumnElement[Any]] = {
    "city": City.name,  # type: ignore[dict-item]
    "country": City.country_code,  # type: ignore[dict-item]
    "state": Membership.state,  # type: ignore[dict-item]
    "admitted": Membership.admitted_on,  # type: ignore[dict-item]
}


def _scoped_members(
    actor: Actor, where: MemberFilter, *, counting: bool = False
) -> Select[Membership]:
    """The members of the list; ``counting``: for a count, where the city is joined only
    when the scope or a filter reads it."""
    if counting and not (where.country or where.search):
        query = counted_memberships(actor, state=where.state)
    else:
        query = visible_memberships(actor, state=where.state)
    if where.country:
        query = query.where(City.country_code == where.country.upper())
    if where.search:
        query = query.where(name_matches(where.search))
    if where.year:
        query = query.where(Membership.admission_year == where.year)
    return query


def _member_filter(where: MemberFilter | None, state: str | None) -> MemberFilter:
    where = where or MemberFilter()
    return replace(where, state=state) if state else where


def count_members(
    session: Session,
    actor: Actor,
    where: MemberFilter | None = None,
    *,
    state: str | None = None,
) -> int:
    where = _member_filter(where, state)
    query = _scoped_members(actor, where, counting=True).with_only_columns(func.count())
    return session.scalar(query) or 0


def member_lines(
    session: Session,
    settings: Settings,
    actor: Actor,
    now: datetime,
    where: MemberFilter | None = None,
    *,
    state: str | None = None,
    limit: int = PER_PAGE,
    offset: int = 0,
) -> list[MemberLine]:
    """Members the actor may see, ``limit`` from ``offset`` in the list's order."""
    where = _member_filter(where, state)
    check_country(session, where.country)
    scoped = _scoped_members(actor, where)
    chosen = sorted_by(where.sort, MEMBER_SORTS, Membership.id)  # type: ignore[arg-type]
    if chosen is not None:
        found = list(session.execute(_members_in(scoped, true(), limit, offset, chosen)))
        return _member_lines(session, settings, now, found)
    counts = _standings(session, _scoped_members(actor, where, counting=True))
    return _member_slice(session, settings, now, scoped, counts, limit, offset)


def member_page(
    session: Session,
    settings: Settings,
    actor: Actor,
    now: datetime,
    number: int,
    where: MemberFilter | None = None,
    *,
    size: int = PER_PAGE,
) -> tuple[Page, list[MemberLine]]:
    """Page ``number`` of ``member_lines``."""
    where = where or MemberFilter()
    check_country(session, where.country)
    if where.sort:
        pager = page_of(number, count_members(session, actor, where), size)
        lines = member_lines(
            session, settings, actor, now, where, limit=pager.size, offset=pager.offset
        )
        return pager, lines
    scoped = _scoped_members(actor, where)
    counts = _standings(session, _scoped_members(actor, where, counting=True))
    pager = page_of(number, sum(counts.values()), size)
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
    """Each standing the slice reaches is read by city name on its own, so no CASE is
    computed over every member: along ``ix_memberships_state_city_name``, a page of a
    standing reads that page's rows alone (benchmark 4: the first page of 10,000 active
    members, 0.2 ms on PostgreSQL, which passed 10,000 applicant cities along the
    cities' name index before, 7 ms)."""
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
    scoped: Select[Membership],
    where: ColumnElement[bool],
    limit: int,
    offset: int,
    order: Sequence[ColumnElement[Any]] = (Membership.city_name, Membership.id),  # type: ignore[assignment]
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
        .order_by(*order)
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


@dataclass(frozen=True)
class ReportFilter:
    """What narrows a report list, for pages, API and CLI alike: ``search`` part of the
    city's name, ``year`` the year of the due date, ``sort`` a key of ``REPORT_SORTS``
    (``-key`` descending) in place of the list's order (by due date; submitted reports
    alone: the longest waiting first)."""

    state: str | None = None
    country: str | None = None
    search: str | None = None
    year: int | None = None
    sort: str | None = None


#: The columns a report list can be sorted by.
REPORT_SORTS: dict[str, ColumnElement[Any]] = {
    "number": Report.id,  # type: ignore[dict-item]
    "city": City.name,  # type: ignore[dict-item]
    "due": Report.due_on,  # type: ignore[dict-item]
    "state": Report.state,  # type: ignore[dict-item]
    "submitted": Report.submitted_at,  # type: ignore[dict-item]
}


@dataclass(frozen=True)
class ReportLine:
    """One report as a list shows it."""

    id: int
    membership_id: int
    city: str
    country_code: str
    due_on: date
    state: str
    late: bool
    submitted_at: datetime | None


def _reports(actor: Actor, where: ReportFilter) -> Select[Report]:
    query = visible_reports(actor, state=where.state)
    if where.country:
        query = query.where(City.country_code == where.country.upper())
    if where.search:
        query = query.where(name_matches(where.search))
    if where.year:
        query = query.where(
            Report.due_on >= date(where.year, 1, 1), Report.due_on < date(where.year + 1, 1, 1)
        )
    chosen = sorted_by(where.sort, REPORT_SORTS, Report.id)  # type: ignore[arg-type]
    if chosen is not None:
        return query.order_by(*chosen)
    if where.state == R.SUBMITTED.value:
        return query.order_by(Report.submitted_at, Report.id)
    return query.order_by(Report.due_on, Report.id)


def list_reports(
    session: Session,
    actor: Actor,
    where: ReportFilter | None = None,
    *,
    state: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Report]:
    """Report obligations the actor may see, by due date (whole records: API, CLI)."""
    where = where or ReportFilter()
    where = replace(where, state=state) if state else where
    check_country(session, where.country)
    query = _reports(actor, where).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def count_reports(session: Session, actor: Actor, where: ReportFilter | None = None) -> int:
    query = _reports(actor, where or ReportFilter()).order_by(None)
    return session.scalar(query.with_only_columns(func.count())) or 0


def report_lines(
    session: Session,
    actor: Actor,
    where: ReportFilter | None = None,
    *,
    limit: int = PER_PAGE,
    offset: int = 0,
) -> list[ReportLine]:
    """The reports of ``list_reports``, only the columns a list shows, as plain rows."""
    where = where or ReportFilter()
    check_country(session, where.country)
    query = (
        _reports(actor, where)
        .with_only_columns(
            Report.id,
            Report.membership_id,
            City.name,
            City.country_code,
            Report.due_on,
            Report.state,
            Report.late,
            Report.submitted_at,
        )
        .limit(limit)
        .offset(offset)
    )
    return [
        ReportLine(
            id=r.id,
            membership_id=r.membership_id,
            city=r.name,
            country_code=r.country_code,
            due_on=r.due_on,
            state=r.state,
            late=r.late,
            submitted_at=r.submitted_at,
        )
        for r in session.execute(query)
    ]


def report_page(
    session: Session,
    actor: Actor,
    number: int,
    where: ReportFilter | None = None,
    *,
    size: int = PER_PAGE,
) -> tuple[Page, list[ReportLine]]:
    """Page ``number`` of the Institute's report list (the review queue by default)."""
    require_role(actor, Role.INSTITUTE, Role.ADMIN, doing="review progress reports")
    pager = page_of(number, count_reports(session, actor, where), size)
    return pager, report_lines(session, actor, where, limit=pager.size, offset=pager.offset)


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


# --- a city's start page ---------------------------------------------------------------


@dataclass(frozen=True)
class DueDates:
    """A member's due dates, those passed apart from those to come."""

    past: list[date]
    upcoming: list[date]


def due_dates_apart(
    settings: Settings, membership: Membership, today: date, *, ahead: int = 3
) -> DueDates:
    """Every due date the member has passed by ``today`` (its calendar day), and the next
    ``ahead`` from ``today`` on: a member since 2016 sees 2018 to 2026 as past and 2028
    as its next, not the first five dates since admission."""
    rule = memberships.report_rule(settings)
    past: list[date] = []
    upcoming: list[date] = []
    number = 1
    while len(upcoming) < ahead:
        due = rule.due_date(membership.admission_year, number)
        number += 1
        if due < membership.reports_from:
            continue
        (past if due < today else upcoming).append(due)
    return DueDates(past, upcoming)


@dataclass(frozen=True)
class Attention:
    """Something that waits for a city: ``kind`` is ``application_returned``,
    ``draft_deadline`` or ``report_<state>``; ``link`` the page to act on it."""

    kind: str
    link: str
    subject: str
    due: date | None = None
    comment: str = ""
    by: str = ""
    at: datetime | None = None


#: A draft is flagged on the city's page this many days before its call closes.
DRAFT_WARNING_DAYS = 21


def _latest_comments(
    session: Session, subject_type: str, ids: Sequence[int], to_state: str
) -> dict[int, AuditEvent]:
    """The latest event that moved each record to ``to_state`` (who, when, the comment)."""
    if not ids:
        return {}
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.subject_type == subject_type,
            AuditEvent.subject_id.in_(list(ids)),
            AuditEvent.to_state == to_state,
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    return {e.subject_id: e for e in events}


def city_attention(
    session: Session, settings: Settings, actor: Actor, now: datetime
) -> list[Attention]:
    """What waits for a city now, most urgent first: applications returned to it (with
    the reviewer's comment), drafts whose call closes soon, reports open, overdue or
    returned (with the comment)."""
    require_role(actor, Role.CITY, doing="see what waits for a city")
    found: list[Attention] = []
    returned = list(
        session.execute(
            visible_applications(actor, state=A.RETURNED.value).with_only_columns(
                Application.id, Call.name, Call.closes_on
            )
        )
    )
    notes = _latest_comments(session, "application", [r.id for r in returned], A.RETURNED.value)
    for r in returned:
        note = notes.get(r.id)
        found.append(
            Attention(
                kind="application_returned",
                link=f"/applications/{r.id}",
                subject=r.name,
                comment=note.comment if note else "",
                by=note.actor_name if note else "",
                at=note.at if note else None,
            )
        )
    drafts = session.execute(
        visible_applications(actor, state=A.DRAFT.value).with_only_columns(
            Application.id, Call.name, Call.closes_on, Call.timezone
        )
    )
    for d in drafts:
        today = local_date(now, d.timezone)
        if today <= d.closes_on <= today + timedelta(days=DRAFT_WARNING_DAYS):
            found.append(
                Attention(
                    kind="draft_deadline",
                    link=f"/applications/{d.id}",
                    subject=d.name,
                    due=d.closes_on,
                )
            )
    owed = list(
        session.execute(
            visible_reports(actor)
            .where(Report.state.in_(sorted(WAITING_REPORTS)))
            .with_only_columns(Report.id, Report.due_on, Report.state)
            .order_by(Report.due_on)
        )
    )
    report_notes = _latest_comments(session, "report", [o.id for o in owed], R.RETURNED.value)
    for o in owed:
        note = report_notes.get(o.id) if o.state == R.RETURNED.value else None
        found.append(
            Attention(
                kind=f"report_{o.state}",
                link=f"/reports/{o.id}",
                subject=str(o.due_on.year),
                due=o.due_on,
                comment=note.comment if note else "",
                by=note.actor_name if note else "",
                at=note.at if note else None,
            )
        )
    return found


def city_membership(
    session: Session, settings: Settings, actor: Actor, now: datetime
) -> tuple[MemberLine, DueDates] | None:
    """The city's membership line and its due dates apart (None: not a member)."""
    require_role(actor, Role.CITY, doing="see a city's membership")
    membership = session.scalars(
        visible_memberships(actor).order_by(Membership.id.desc()).limit(1)
    ).first()
    if membership is None:
        return None
    today = local_date(now, membership.city.country.timezone)
    line = member_lines(session, settings, actor, now, limit=1)
    if not line:
        return None
    return line[0], due_dates_apart(settings, membership, today)


def counts_by_state(session: Session, query: Select[Any], column: Any) -> dict[str, int]:
    """How many rows of ``query`` are in each state (one GROUP BY)."""
    grouped = query.order_by(None).with_only_columns(column, func.count()).group_by(column)
    return {state: count for state, count in session.execute(grouped)}


def member_counts(session: Session, actor: Actor) -> dict[str, int]:
    return counts_by_state(session, counted_memberships(actor), Membership.state)


def report_counts(session: Session, actor: Actor) -> dict[str, int]:
    return counts_by_state(session, counted_reports(actor), Report.state)


def application_counts(session: Session, actor: Actor) -> dict[str, int]:
    return counts_by_state(session, visible_applications(actor), seen_state(actor))


def upcoming_due_dates(
    settings: Settings, membership: Membership, now: datetime, count: int = 3
) -> list[date]:
    """The member's next ``count`` due dates from today (its country's day) on, for the
    member's page: not the first dates since admission, which are long past."""
    today = local_date(now, membership.city.country.timezone)
    return due_dates_apart(settings, membership, today, ahead=count).upcoming
