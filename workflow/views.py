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

Lists read narrowly: the columns shown, the quota of the calls on the page in one query;
never one query per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, case, func
from sqlalchemy.orm import Session

from workflow.actors import Actor
from workflow.errors import InvalidInput, NotFound
from workflow.machines import APPLICATION, Step
from workflow.models import Application, Call, City, Country
from workflow.services import applications as apps
from workflow.states import ApplicationState as A
from workflow.visibility import visible_applications

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


# --- applications --------------------------------------------------------------------

NEWEST = "newest"
WAITING = "waiting"
#: The orders an application list can have (the API's ``order``, the CLI's ``--order``).
ORDERS = (NEWEST, WAITING)


@dataclass(frozen=True)
class ApplicationFilter:
    """What narrows an application list (never wider than the actor's scope)."""

    state: str | None = None
    states: tuple[str, ...] = ()
    call: str | None = None
    country: str | None = None


def _applications(actor: Actor, where: ApplicationFilter, order: str) -> Select[Application]:
    query = visible_applications(
        actor, state=where.state, states=where.states, call=where.call, country=where.country
    )
    if order == WAITING:
        actionable = [s.value for s in A if APPLICATION.allowed(s.value, actor.role)]
        return query.order_by(
            case((Application.state.in_(actionable), 0), else_=1),
            Call.commission_deadline,
            Application.id,
        )
    if order == NEWEST:
        return query.order_by(Application.id.desc())
    raise InvalidInput(f"order {order!r}: say {' or '.join(ORDERS)}.")


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
    return list(session.scalars(query))


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
    actions: list[Step]


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
            Application.state,
            Application.route,
            Call.commission_deadline,
            Call.quota,
            Application.call_id,
        )
        .join(City, Application.city_id == City.id)
        .limit(limit)
        .offset(offset)
    )
    found = session.execute(query).all()
    used = apps.endorsements_by_call(session, {(r.call_id, r.country_code) for r in found})
    allowed = {state: APPLICATION.allowed(state, actor.role) for state in {r.state for r in found}}
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
