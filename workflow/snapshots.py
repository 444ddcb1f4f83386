"""An application as one narrow read gives it, for the transitions that change it.

A transition needs the application's row, its call, its city and the city's country:
the rules read them (the window, the quota, the form, the scope) and so does the mail
(the recipients, the message's context). :func:`read_application` gets all four in one
SELECT (on PostgreSQL locking the application's row only) into plain objects, without
the ORM's identity map and unit of work; ``workflow.services.transit`` then writes
with Core statements.

The rules are written once, against the ``*View`` protocols below: an ORM
:class:`~workflow.models.Application` (the pages) and an :class:`ApplicationRow` (the
transitions) both satisfy them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, cast

from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.orm import Session

from workflow.models import Application, Call, City, Country


class CountryView(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def commission_name(self) -> str: ...
    @property
    def commission_email(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def commission_names(self) -> dict[str, Any]: ...


class CityView(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def country_code(self) -> str: ...
    @property
    def mayor_name(self) -> str: ...
    @property
    def mayor_title(self) -> str: ...
    @property
    def contact_name(self) -> str: ...
    @property
    def contact_email(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def names(self) -> dict[str, Any]: ...
    @property
    def country(self) -> CountryView: ...


class CallView(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def opens_on(self) -> date: ...
    @property
    def closes_on(self) -> date: ...
    @property
    def commission_deadline(self) -> date: ...
    @property
    def quota(self) -> int: ...
    @property
    def timezone(self) -> str: ...
    @property
    def cancelled_at(self) -> datetime | None: ...
    @property
    def cancel_reason(self) -> str: ...
    @property
    def review_deadline(self) -> date | None: ...


class ApplicationView(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def call_id(self) -> int: ...
    @property
    def city_id(self) -> int: ...
    @property
    def country_code(self) -> str: ...
    @property
    def route(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def motivation(self) -> str: ...
    @property
    def implementation_plan(self) -> str: ...
    @property
    def challenges(self) -> dict[str, Any]: ...
    @property
    def signed_by(self) -> str: ...
    @property
    def signed_form(self) -> str | None: ...
    @property
    def endorsement(self) -> str: ...
    @property
    def endorsed_at(self) -> datetime | None: ...
    @property
    def submitted_at(self) -> datetime | None: ...
    @property
    def decided_at(self) -> datetime | None: ...
    @property
    def announcement_id(self) -> int | None: ...
    @property
    def announced_at(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def call(self) -> CallView: ...
    @property
    def city(self) -> CityView: ...


@dataclass(slots=True)
class CountryRow:
    code: str
    name: str
    commission_name: str
    commission_email: str
    language: str
    timezone: str
    region: str
    commission_names: dict[str, Any]


@dataclass(slots=True)
class CityRow:
    id: int
    name: str
    country_code: str
    website: str
    mayor_name: str
    mayor_title: str
    contact_name: str
    contact_email: str
    contact_phone: str
    language: str
    population: int | None
    names: dict[str, Any]
    country: CountryRow


@dataclass(slots=True)
class CallRow:
    id: int
    name: str
    opens_on: date
    closes_on: date
    commission_deadline: date
    quota: int
    timezone: str
    generated: bool
    cancelled_at: datetime | None
    cancel_reason: str
    review_deadline: date | None
    created_at: datetime
    version: int


@dataclass(slots=True)
class ApplicationRow:
    """The application as read for a transition; the transition updates ``state``,
    ``version`` and the columns it wrote, so it describes the row as it now is."""

    id: int
    call_id: int
    city_id: int
    country_code: str
    route: str
    state: str
    version: int
    motivation: str
    implementation_plan: str
    challenges: dict[str, Any]
    signed_by: str
    signed_form: str | None
    endorsement: str
    endorsed_at: datetime | None
    submitted_at: datetime | None
    decided_at: datetime | None
    announcement_id: int | None
    announced_at: datetime | None
    created_at: datetime
    updated_at: datetime
    call: CallRow
    city: CityRow


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


APPLICATIONS, CALLS = _table(Application), _table(Call)
CITIES, COUNTRIES = _table(City), _table(Country)
#: The tables of the read, in the order their columns come in its rows.
_TABLES = (APPLICATIONS, CALLS, CITIES, COUNTRIES)
_KEYS = [[column.key for column in table.c] for table in _TABLES]
_READ: Select[Any] = (
    select(*(column for table in _TABLES for column in table.c))
    .select_from(
        APPLICATIONS.join(CALLS, CALLS.c.id == APPLICATIONS.c.call_id)
        .join(CITIES, CITIES.c.id == APPLICATIONS.c.city_id)
        .join(COUNTRIES, COUNTRIES.c.code == CITIES.c.country_code)
    )
    .where(APPLICATIONS.c.id == bindparam("application_id"))
)
_LOCKED = _READ.with_for_update(of=APPLICATIONS, key_share=True)


def read_application(
    session: Session, application_id: int, *, lock: bool = True
) -> ApplicationRow | None:
    """The application ``application_id`` with its call, city and country, in one
    SELECT in the session's transaction (``lock``: ``FOR NO KEY UPDATE OF`` the
    application's row only on PostgreSQL, as ``common.get`` locks; SQLite already holds
    the write lock). Changes the session's ORM objects hold are written first."""
    session.flush()
    statement = _LOCKED if lock else _READ
    row = session.connection().execute(statement, {"application_id": application_id}).first()
    if row is None:
        return None
    values = iter(row)
    app, call, city, country = ({key: next(values) for key in keys} for keys in _KEYS)
    return ApplicationRow(
        **app, call=CallRow(**call), city=CityRow(**city, country=CountryRow(**country))
    )
