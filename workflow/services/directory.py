"""Countries and cities: create or update them, find a city by name."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.settings import check_timezone
from workflow.actors import Actor, require_role
from workflow.errors import InvalidInput, NotFound
from workflow.models import City, Country
from workflow.services.common import flush
from workflow.states import Role

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


@cache
def _configured_languages() -> tuple[str, ...]:
    """The shipped ``[network] languages`` (config/defaults.toml), for a caller that does
    not pass the running settings' list."""
    from config import load_settings

    return tuple(load_settings({}).network.languages)


def line_problem(value: str) -> str | None:
    """Why ``value`` cannot be a one-line field (a name, a title, a phone number), or
    None: a line break or another control character (tab, NUL, escape...) would break
    the lists, the CSV exports and the headers of mail."""
    for char in value:
        if char in "\r\n\u2028\u2029":
            return "must be one line (no line breaks)"
        if unicodedata.category(char) == "Cc":
            return f"contains the control character U+{ord(char):04X}"
    return None


def check_one_line(value: str, field: str) -> str:
    """``value`` stripped, or :class:`InvalidInput` naming ``field``."""
    problem = line_problem(value)
    if problem:
        raise InvalidInput(f"{field}: {problem}.")
    return value.strip()


def check_email(value: str, field: str = "email") -> str:
    value = value.strip()
    if not _EMAIL.match(value) or len(value) > 254:
        raise InvalidInput(f"{field}: {value!r} is not an email address like name@example.org.")
    return value


def check_language(
    value: str, field: str = "language", allowed: Sequence[str] | None = None
) -> str:
    """One of the network's languages (``[network] languages``; the shipped list when
    ``allowed`` is not given)."""
    languages = tuple(allowed) if allowed is not None else _configured_languages()
    value = (value or "en").strip().lower()
    if value not in languages:
        raise InvalidInput(f"{field}: {value!r} is not one of {', '.join(languages)}.")
    return value


def upsert_country(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    commission_name: str,
    commission_email: str,
    language: str = "en",
    timezone: str = "UTC",
    now: datetime,
    languages: Sequence[str] | None = None,
) -> Country:
    require_role(actor, Role.ADMIN, doing="change countries")
    code = code.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise InvalidInput(f"code: {code!r} is not a two-letter ISO country code like LV.")
    if not check_one_line(name, "name"):
        raise InvalidInput("name: required.")
    check_one_line(commission_name, "commission_name")
    try:
        check_timezone(timezone)
    except ValueError as exc:
        raise InvalidInput(f"timezone: {exc}") from exc
    values = {
        "name": name.strip(),
        "commission_name": commission_name.strip() or f"National Commission of {name.strip()}",
        "commission_email": check_email(commission_email, "commission_email"),
        "language": check_language(language, allowed=languages),
        "timezone": timezone,
    }
    country = session.get(Country, code)
    if country is None:
        country = Country(code=code, **values)
        session.add(country)
    else:
        for key, value in values.items():
            setattr(country, key, value)
    flush(session, "country", code)
    return country


CITY_FIELDS = (
    "website",
    "mayor_name",
    "mayor_title",
    "contact_name",
    "contact_phone",
    "population",
    "language",
)
#: What an application's submission needs of its city (Part 1 of the form) besides the
#: contact's email, which every city has: an import refuses a row without them.
CITY_REQUIRED_FOR_SUBMISSION = ("mayor_name", "mayor_title", "contact_name")


def upsert_city(
    session: Session,
    actor: Actor,
    *,
    country_code: str,
    name: str,
    contact_email: str,
    now: datetime,
    languages: Sequence[str] | None = None,
    **fields: Any,
) -> City:
    require_role(actor, Role.ADMIN, Role.CITY, doing="change a city's details")
    country = session.get(Country, country_code.strip().upper())
    if country is None:
        raise InvalidInput(f"country: no country {country_code!r}; import countries first.")
    if not check_one_line(name, "name"):
        raise InvalidInput("name: required.")
    unknown = set(fields) - set(CITY_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown city fields: {', '.join(sorted(unknown))}.")
    values: dict[str, Any] = {"contact_email": check_email(contact_email, "contact_email")}
    for key, value in fields.items():
        if value is None or value == "":
            continue
        if key == "population":
            try:
                value = int(str(value).replace(" ", "").replace(",", ""))
            except ValueError as exc:
                raise InvalidInput(f"population: {value!r} is not a whole number.") from exc
            if not 0 <= value <= 100_000_000:
                raise InvalidInput(f"population: {value} is not a city's population.")
        elif key == "language":
            value = check_language(str(value), allowed=languages)
        else:
            value = check_one_line(str(value), key)
        values[key] = value
    city = session.scalars(
        select(City).where(City.country_code == country.code, City.name == name.strip())
    ).first()
    if actor.role is Role.CITY and (city is None or city.id != actor.city_id):
        raise InvalidInput("A city can change only its own details.")
    if city is None:
        city = City(country_code=country.code, name=name.strip(), **values)
        session.add(city)
    else:
        for key, value in values.items():
            setattr(city, key, value)
    flush(session, "city", name)
    session.refresh(city)
    return city


def find_city(session: Session, ref: str) -> City:
    """A city by id, or by 'CC/Name' or a unique name."""
    if ref.isdigit():
        city = session.get(City, int(ref))
        if city is None:
            raise NotFound("city", ref)
        return city
    country, _, name = ref.rpartition("/")
    query = select(City).where(City.name == name.strip())
    if country:
        query = query.where(City.country_code == country.strip().upper())
    found = list(session.scalars(query))
    if not found:
        raise NotFound("city", ref)
    if len(found) > 1:
        raise InvalidInput(f"{ref!r} names cities in several countries; write it as CC/{name}.")
    return found[0]
