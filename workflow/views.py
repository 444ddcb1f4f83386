"""The read model: what an actor may see, in which order, for pages, API and CLI alike.

Every list starts from the scope in ``workflow.visibility`` and takes its order from
here, so the portal's pages, the JSON API and ``gnlc ... list`` show the same rows in the
same order for the same actor (tests/integration/test_read_model.py compares them).
This module holds the pager and the applications; ``workflow.member_views`` the members,
reports and cities.

- Applications: ``list_applications`` (whole records, for the API and the CLI) and
  ``queue_lines``/``queue_page`` (the columns a list shows, as plain rows, with the quota
  left) share one select and one of two orders: ``newest`` first (the API's and the
  CLI's default) or ``waiting`` (what waits for the actor first, then the soonest
  Commission deadline: the pages' queue; the API and CLI offer it with ``order``).

One filter object per list (``ApplicationFilter`` here; ``MemberFilter`` and
``ReportFilter`` in ``workflow.member_views``) carries the search by city name, the
filters by state, country, call and year, and the sort (``sorted_by``: a column key,
``-key`` descending); the portal's pages and CSV exports (``web.lists``), the API and the
CLI build the same object, so they show the same rows.

Lists read narrowly: the columns shown, the quota of the calls on the page in one query;
never one query per row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session

from workflow.actors import Actor
from workflow.errors import InvalidInput, NotFound
from workflow.machines import APPLICATION, Step
from workflow.models import Application, Call, City, Country
from workflow.services import applications as apps
from workflow.states import ApplicationState as A
from workflow.states import Role
from workflow.visibility import mask, seen_state, visible_applications

# --- pages ---------------------------------------------------------------------------

PER_PAGE = 50


@dataclass(frozen=True)
class Page:
    """One page of a long list, for the pager under it."""

    number: int
    size: int
    total: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def last(self) -> int:
        return max((self.total + self.size - 1) // self.size, 1)


def page_of(number: int, total: int, size: int = PER_PAGE) -> Page:
    """Page ``number`` of ``total`` rows, clamped to the pages there are."""
    return Page(min(max(number, 1), max((total + size - 1) // size, 1)), size, total)


def check_country(session: Session, country: str | None) -> None:
    """A country filter must name a country: an unknown code is an error, not an empty list."""
    if country and session.get(Country, country.upper()) is None:
        raise NotFound("country", country.upper())


@dataclass(frozen=True)
class FilterOptions:
    """What a list's filters offer the actor: the countries it may see, the calls by name
    (newest first)."""

    countries: list[str]
    calls: list[str]


def filter_options(session: Session, actor: Actor) -> FilterOptions:
    """The countries (a city and a Commission: their own) and calls a filter can name."""
    countries = select(Country.code).order_by(Country.code)
    if actor.country_code and actor.role in (Role.CITY, Role.COMMISSION):
        countries = countries.where(Country.code == actor.country_code)
    calls = select(Call.name).order_by(Call.opens_on.desc(), Call.id.desc())
    return FilterOptions(list(session.scalars(countries)), list(session.scalars(calls)))


# --- applications --------------------------------------------------------------------

NEWEST = "newest"
WAITING = "waiting"
#: The orders an application list can have (the API's ``order``, the CLI's ``--order``).
ORDERS = (NEWEST, WAITING)


def sorted_by(
    sort: str | None, columns: Mapping[str, ColumnElement[Any]], tiebreak: ColumnElement[Any]
) -> list[ColumnElement[Any]] | None:
    """The ORDER BY of a sortable list: ``sort`` is a column's key, ``-key`` for descending
    (None: the list's own order). An unknown key names the keys there are."""
    if not sort:
        return None
    key = sort.removeprefix("-")
    if key not in columns:
        raise InvalidInput(
            f"sort {sort!r}: say one of {', '.join(columns)} (-KEY for descending).",
            "filter_choice",
            field="list.sort",
            value=sort,
        )
    column = columns[key]
    return [column.desc() if sort.startswith("-") else column.asc(), tiebreak]


@dataclass(frozen=True)
class ApplicationFilter:
    """What narrows an application list (never wider than the actor's scope): the one
    filter of the pages, the API and the CLI. ``search``: part of the city's name;
    ``year``: the year the call opens; ``sort``: a key of ``APPLICATION_SORTS``
    (``-key`` descending), which replaces the list's order."""

    state: str | None = None
    states: tuple[str, ...] = ()
    call: str | None = None
    country: str | None = None
    search: str | None = None
    year: int | None = None
    sort: str | None = None


#: The columns an application list can be sorted by.
APPLICATION_SORTS: dict[str, ColumnElement[Any]] = {
    "number": Application.id,  # type: ignore[dict-item]
    "city": City.name,  # type: ignore[dict-item]
    "call": Call.opens_on,  # type: ignore[dict-item]
    "state": Application.state,  # type: ignore[dict-item]
    "deadline": Call.commission_deadline,  # type: ignore[dict-item]
    "country": Application.country_code,  # type: ignore[dict-item]
}


@cache
def _waiting_first(role: Role) -> ColumnElement[int]:
    """0 for the states in which ``role`` has a step to take, else 1 (built once per role)."""
    actionable = [s.value for s in A if APPLICATION.allowed(s.value, role)]
    return case((Application.state.in_(actionable), 0), else_=1)


def _applications(actor: Actor, where: ApplicationFilter, order: str) -> Select[Application]:
    query = visible_applications(
        actor,
        state=where.state,
        states=where.states,
        call=where.call,
        country=where.country,
        search=where.search,
        year=where.year,
    )
    chosen = sorted_by(where.sort, APPLICATION_SORTS, Application.id)  # type: ignore[arg-type]
    if chosen is not None:
        return query.order_by(*chosen)
    if order == WAITING:
        return query.order_by(_waiting_first(actor.role), Call.commission_deadline, Application.id)
    if order == NEWEST:
        return query.order_by(Application.id.desc())
    raise InvalidInput(
        f"order {order!r}: say {' or '.join(ORDERS)}.",
        "filter_choice",
        field="list.sort",
        value=order,
    )


def list_applications(
    session: Session,
    actor: Actor,
    where: ApplicationFilter = ApplicationFilter(),
    *,
    order: str = NEWEST,
    limit: int = 500,
    offset: int = 0,
) -> list[Application]:
    """Applications the actor may see, as whole records (the API's and the CLI's rows)."""
    check_country(session, where.country)
    query = _applications(actor, where, order).limit(limit).offset(offset)
    return [mask(actor, a) for a in session.scalars(query)]


def count_applications(
    session: Session, actor: Actor, where: ApplicationFilter = ApplicationFilter()
) -> int:
    query = _applications(actor, where, NEWEST).order_by(None).with_only_columns(func.count())
    return session.scalar(query) or 0


@dataclass(frozen=True)
class QueueLine:
    """One application as a list shows it, with the quota left in its call and country."""

    id: int
    city: str
    country_code: str
    call: str
    state: str
    route: str
    deadline: date
    quota: int
    quota_left: int
    actions: tuple[Step, ...]


def queue_lines(
    session: Session,
    actor: Actor,
    where: ApplicationFilter = ApplicationFilter(),
    *,
    order: str = WAITING,
    limit: int = PER_PAGE,
    offset: int = 0,
) -> list[QueueLine]:
    """The applications of ``list_applications``, only the columns shown: two queries."""
    check_country(session, where.country)
    query = (
        _applications(actor, where, order)
        .with_only_columns(
            Application.id,
            City.name,
            Application.country_code,
            Call.name,
            seen_state(actor).label("state"),
            Application.route,
            Call.commission_deadline,
            Call.quota,
            Application.call_id,
        )
        .limit(limit)
        .offset(offset)
    )
    found = session.execute(query).all()
    used = apps.endorsements_by_call(session, {(r.call_id, r.country_code) for r in found})
    allowed = {s: tuple(APPLICATION.allowed(s, actor.role)) for s in {r.state for r in found}}
    return [
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


def queue_page(
    session: Session,
    actor: Actor,
    number: int,
    where: ApplicationFilter = ApplicationFilter(),
    *,
    size: int = PER_PAGE,
) -> tuple[Page, list[QueueLine]]:
    """Page ``number`` of the queue: what waits for the actor first, soonest deadline first."""
    pager = page_of(number, count_applications(session, actor, where), size)
    return pager, queue_lines(session, actor, where, limit=pager.size, offset=pager.offset)
