"""What an actor may see: the scope of every list, written once, as SQL.

A city sees its own records, a Commission those of its country's cities, the Institute,
an administrator and the scheduler everything, a juror only the applications assigned to
them (not declined) and no city, membership or report. ``workflow.actors.can_see`` and
``require_city_scope`` are the same rule for one row already loaded; these are the rule
for many rows, so a list, a count and a page all come from one select. The read model
(``workflow.views``, ``workflow.member_views``) builds every list that pages, API and CLI
show on these.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cache, lru_cache

from sqlalchemy import ColumnElement, Select, case, false, select, true
from sqlalchemy.orm import QueryableAttribute, object_session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.util import find_tables

from workflow.actors import Actor
from workflow.models import Application, Call, City, JuryAssignment, Membership, Report
from workflow.snapshots import ApplicationView
from workflow.states import Role


def city_scope(
    actor: Actor, city_id: QueryableAttribute[int], country_code: QueryableAttribute[str]
) -> ColumnElement[bool]:
    """The where-clause of ``can_see`` over a city id and a country code column."""
    if actor.role is Role.CITY:
        return city_id == actor.city_id
    if actor.role is Role.COMMISSION:
        return country_code == actor.country_code
    if actor.role is Role.JUROR:
        return false()
    return true()


def name_matches(search: str) -> ColumnElement[bool]:
    """The city's name contains ``search``, whatever the case (``%`` and ``_`` are literal)."""
    return City.name.icontains(search.strip().lower(), autoescape=True)


def application_scope(actor: Actor) -> ColumnElement[bool]:
    if actor.role is Role.JUROR:
        return Application.id.in_(
            select(JuryAssignment.application_id).where(
                JuryAssignment.juror_id == actor.user_id,
                JuryAssignment.state.in_(("assigned", "scored")),
            )
        )
    return city_scope(actor, Application.city_id, Application.country_code)


def membership_scope(actor: Actor) -> ColumnElement[bool]:
    """Needs ``City`` in the FROM clause (a Commission sees by the city's country)."""
    return city_scope(actor, Membership.city_id, City.country_code)


#: The Institute's decisions, kept from the city and its Commission until announced.
UNANNOUNCED_DECISIONS = ("admitted", "not_admitted")
#: What the city and its Commission see of an unannounced decision.
UNDER_REVIEW = "under_review"


def told_only_when_announced(actor: Actor) -> bool:
    """Whether ``actor`` sees an Institute's decision only once it is announced."""
    return actor.role in (Role.CITY, Role.COMMISSION)


def shown_state(actor: Actor, state: str, announced_at: object) -> str:
    """The application's state as ``actor`` sees it: an unannounced decision is still
    "under review" for the city and its Commission."""
    if state in UNANNOUNCED_DECISIONS and announced_at is None and told_only_when_announced(actor):
        return UNDER_REVIEW
    return state


def mask(actor: Actor, app: Application) -> Application:
    """Show ``app`` to ``actor`` as :func:`shown_state` says, for reading: the loaded
    object's state is replaced as if read so (never written back by a flush)."""
    shown = shown_state(actor, app.state, app.announced_at)
    if shown != app.state:
        set_committed_value(app, "state", shown)
        set_committed_value(app, "decided_at", None)
        session = object_session(app)
        if session is not None:
            session.info.setdefault(_MASKED, set()).add(app.id)
    return app


#: ``session.info`` key: the ids of the applications :func:`mask` showed as under review.
_MASKED = "masked_decisions"


def decided_unannounced(app: ApplicationView) -> bool:
    """Whether the Institute has decided ``app`` and not announced it yet (also when
    :func:`mask` shows it to the city as under review; a row read for a transition,
    ``workflow.snapshots``, is never masked)."""
    if app.state in UNANNOUNCED_DECISIONS and app.announced_at is None:
        return True
    if not isinstance(app, Application):
        return False
    session = object_session(app)
    return session is not None and app.id in session.info.get(_MASKED, ())


def seen_state(actor: Actor) -> ColumnElement[str]:
    """:func:`shown_state` as SQL over ``Application``."""
    if not told_only_when_announced(actor):
        return Application.state  # type: ignore[return-value]
    return _masked_state()


@cache
def _masked_state() -> ColumnElement[str]:
    # Built once: an expression is immutable, and building it is a page view's cost.
    return case(
        (
            Application.state.in_(UNANNOUNCED_DECISIONS) & Application.announced_at.is_(None),
            UNDER_REVIEW,
        ),
        else_=Application.state,
    )


def visible_applications(
    actor: Actor,
    *,
    state: str | None = None,
    states: Sequence[str] | None = None,
    call: str | None = None,
    country: str | None = None,
    search: str | None = None,
    year: int | None = None,
) -> Select[Application]:
    """Applications the actor may see, with their call and city joined; a filter never
    widens it (``search``: part of the city's name; ``year``: the year the call opens)."""
    query = _scoped_applications(actor)
    if search:
        query = query.where(name_matches(search))
    if year:
        query = query.where(Call.opens_on >= date(year, 1, 1), Call.opens_on < date(year + 1, 1, 1))
    if state:
        query = query.where(seen_state(actor) == state)
    if states:
        query = query.where(seen_state(actor).in_(list(states)))
    if call:
        query = query.where(Call.name == call)
    if country:
        query = query.where(Application.country_code == country.upper())
    return query


# The scoped selects, built once per actor: a select is immutable (each filter makes a
# new one), and building one costs a page view more than compiling it (SQLAlchemy caches
# the compiled SQL, not the Python objects of the statement).


@lru_cache(maxsize=1024)
def _scoped_applications(actor: Actor) -> Select[Application]:
    return (
        select(Application)
        .join(Call, Application.call_id == Call.id)
        .join(City, Application.city_id == City.id)
        .where(application_scope(actor))
    )


@lru_cache(maxsize=1024)
def _scoped_memberships(actor: Actor) -> Select[Membership]:
    return (
        select(Membership).join(City, Membership.city_id == City.id).where(membership_scope(actor))
    )


def visible_memberships(actor: Actor, *, state: str | None = None) -> Select[Membership]:
    """Memberships the actor may see, with their city joined."""
    query = _scoped_memberships(actor)
    if state:
        query = query.where(Membership.state == state)
    return query


def visible_reports(actor: Actor, *, state: str | None = None) -> Select[Report]:
    """Progress reports the actor may see, with their membership and city joined."""
    query = (
        select(Report)
        .join(Membership, Report.membership_id == Membership.id)
        .join(City, Membership.city_id == City.id)
        .where(membership_scope(actor))
    )
    if state:
        query = query.where(Report.state == state)
    return query


def _reads(scope: ColumnElement[bool], table: object) -> bool:
    return any(found is table for found in find_tables(scope, check_columns=True))


def counted_memberships(actor: Actor, *, state: str | None = None) -> Select[Membership]:
    """The rows of :func:`visible_memberships`, for counting: the city is joined only when
    the actor's scope reads it (a Commission's, by country). Every membership has its
    city (a foreign key), so the rows are the same; the Institute's count of 10k members
    no longer walks the cities (benchmark 4)."""
    query = _counted_memberships(actor)
    if state:
        query = query.where(Membership.state == state)
    return query


@lru_cache(maxsize=1024)
def _counted_memberships(actor: Actor) -> Select[Membership]:
    scope = membership_scope(actor)
    if _reads(scope, City.__table__):
        return _scoped_memberships(actor)
    # From the memberships named, so that a count of no column still counts them.
    return select(Membership).select_from(Membership).where(scope)


@lru_cache(maxsize=1024)
def counted_reports(actor: Actor) -> Select[Report]:
    """The rows of :func:`visible_reports`, for counting, joined only as far as the
    actor's scope reads (see :func:`counted_memberships`)."""
    scope = membership_scope(actor)
    if _reads(scope, City.__table__):
        return visible_reports(actor)
    query = select(Report).select_from(Report)
    if _reads(scope, Membership.__table__):
        query = query.join(Membership, Report.membership_id == Membership.id)
    return query.where(scope)


def visible_cities(actor: Actor, *, country: str | None = None) -> Select[City]:
    """Cities the actor may see."""
    query = select(City).where(city_scope(actor, City.id, City.country_code))
    if country:
        query = query.where(City.country_code == country.upper())
    return query
