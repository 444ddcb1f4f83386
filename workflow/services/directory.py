"""Countries and cities: create or update them, find a city by name."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.settings import check_timezone
from workflow.actors import Actor, require_role
from workflow.errors import InvalidInput, NotAllowed, NotFound
from workflow.models import City, Country
from workflow.names import merged
from workflow.regions import REGIONS, region_of
from workflow.services.common import audit, flush
from workflow.states import Role

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


@cache
def _configured_languages() -> tuple[str, ...]:
    """The shipped ``[network] languages`` (config/defaults.toml), for a caller that does
    not pass the running settings' list."""
    from config import load_settings

    return tuple(load_settings({}).network.languages)


class FieldInvalid(InvalidInput):
    """An entered value that breaks the rule ``why``.

    The English message names the field by its key (``contact_email: ...``), as a CSV
    column or a command's option is named; ``params["field"]`` is the message id of the
    field's label (``field.<key>``, or ``label``), so a page says the refusal
    ``refusal.invalid_input.<why>`` in its own words and names the field as its form does.
    """

    def __init__(
        self, why: str, field: str, message: str, *, label: str = "", **params: object
    ) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.why = why
        self.params = {"field": label or f"field.{field}", **params}

    @property
    def reason(self) -> str:
        return f"{self.code}.{self.why}"


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
        raise FieldInvalid("not_one_line", field, f"{problem}.")
    return value.strip()


def check_required(value: str, field: str, *, label: str = "") -> str:
    """``value`` on one line and not blank, stripped."""
    value = check_one_line(value, field)
    if not value:
        raise FieldInvalid("required", field, "required.", label=label)
    return value


def check_email(value: str, field: str = "email") -> str:
    value = value.strip()
    if not _EMAIL.match(value) or len(value) > 254:
        raise FieldInvalid(
            "not_email", field, f"{value!r} is not an email address like name@example.org.",
            value=value,
        )  # fmt: skip
    return value


def check_language(
    value: str, field: str = "language", allowed: Sequence[str] | None = None
) -> str:
    """One of the network's languages (``[network] languages``; the shipped list when
    ``allowed`` is not given)."""
    languages = tuple(allowed) if allowed is not None else _configured_languages()
    value = (value or "en").strip().lower()
    if value not in languages:
        raise FieldInvalid(
            "not_language", field, f"{value!r} is not one of {', '.join(languages)}.",
            value=value, languages=", ".join(languages),
        )  # fmt: skip
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
    region: str = "",
    commission_names: Mapping[str, str] | None = None,
) -> Country:
    """``region``: a key of ``workflow.regions.REGIONS``; blank keeps the country's region,
    or gives a new country the one of its code. ``commission_names``: the Commission's
    name per language ({lang: name}, see ``workflow.names``); a language not given keeps
    its name, a blank one removes it."""
    require_role(actor, Role.ADMIN, doing="change countries")
    code = code.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise FieldInvalid(
            "not_country_code", "code", f"{code!r} is not a two-letter ISO country code like LV.",
            value=code,
        )  # fmt: skip
    check_required(name, "name", label="field.country")
    check_one_line(commission_name, "commission_name")
    try:
        check_timezone(timezone)
    except ValueError as exc:
        raise FieldInvalid("not_timezone", "timezone", str(exc), value=timezone) from exc
    values: dict[str, Any] = {
        "name": name.strip(),
        "commission_name": commission_name.strip() or f"National Commission of {name.strip()}",
        "commission_email": check_email(commission_email, "commission_email"),
        "language": check_language(language, allowed=languages),
        "timezone": timezone,
    }
    region = region.strip().lower()
    if region and region not in REGIONS:
        raise FieldInvalid(
            "not_region", "region", f"{region!r} is not one of {', '.join(REGIONS)}.",
            value=region,
        )  # fmt: skip
    country = session.get(Country, code)
    values["region"] = region or (country.region if country else "") or region_of(code)
    if commission_names is not None or country is None:
        given = _names(commission_names or {}, "commission_name_", languages)
        values["commission_names"] = merged(country.commission_names if country else {}, given)
    if country is None:
        country = Country(code=code, **values)
        session.add(country)
    else:
        for key, value in values.items():
            setattr(country, key, value)
    flush(session, "country", code)
    return country


#: The longest name per language (a Commission's, a city's).
NAME_MAX = 200


def _names(
    given: Mapping[str, str], prefix: str, languages: Sequence[str] | None
) -> dict[str, str]:
    """Checked names per language: one line each, languages of the network only; the
    field of a refusal is ``<prefix><lang>`` (a CSV column, a form field)."""
    allowed = tuple(languages) if languages is not None else _configured_languages()
    found: dict[str, str] = {}
    for lang, value in given.items():
        lang = lang.strip().lower()
        if lang not in allowed:
            raise FieldInvalid(
                "not_language", f"{prefix}{lang}", f"{lang!r} is not one of {', '.join(allowed)}.",
                label="field.language", value=lang, languages=", ".join(allowed),
            )  # fmt: skip
        field, text = f"{prefix}{lang}", str(value)
        problem = line_problem(text)
        if problem:
            raise FieldInvalid("not_one_line", field, f"{problem}.")
        if len(text.strip()) > NAME_MAX:
            raise FieldInvalid(
                "too_long", field, f"at most {NAME_MAX} characters.",
                length=len(text.strip()), max=NAME_MAX,
            )  # fmt: skip
        found[lang] = text.strip()
    return found


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


def _city_values(
    session: Session,
    country_code: str,
    name: str,
    contact_email: str,
    languages: Sequence[str] | None,
    fields: dict[str, Any],
    *,
    blank_clears: bool = False,
) -> tuple[Country, str, dict[str, Any]]:
    """The checked country, name and column values of a city. A blank field is left out,
    or (``blank_clears``, the portal's edit form) cleared."""
    country = session.get(Country, country_code.strip().upper())
    if country is None:
        raise FieldInvalid(
            "no_country", "country", f"no country {country_code!r}; import countries first.",
            value=country_code,
        )  # fmt: skip
    name = check_required(name, "name", label="field.city_name")
    unknown = set(fields) - set(CITY_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown city fields: {', '.join(sorted(unknown))}.", "unknown_fields")
    values: dict[str, Any] = {"contact_email": check_email(contact_email, "contact_email")}
    for key, value in fields.items():
        if value is None or str(value).strip() == "":
            if blank_clears:
                values[key] = {"population": None, "language": "en"}.get(key, "")
            continue
        if key == "population":
            try:
                value = int(str(value).replace(" ", "").replace(",", ""))
            except ValueError as exc:
                raise FieldInvalid(
                    "not_number", "population", f"{value!r} is not a whole number."
                ) from exc
            if not 0 <= value <= 100_000_000:
                message = f"{value} is not a city's population."
                if value > 0:
                    raise FieldInvalid("too_large", "population", message, max=100_000_000)
                raise FieldInvalid("too_small", "population", message, min=0)
        elif key == "language":
            value = check_language(str(value), allowed=languages)
        else:
            value = check_one_line(str(value), key)
        values[key] = value
    return country, name, values


def contains(text: str) -> str:
    """A LIKE pattern (escape character ``\\``) for values containing ``text``."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def find_cities(
    session: Session,
    actor: Actor,
    *,
    search: str = "",
    country: str = "",
    offset: int = 0,
    limit: int = 50,
) -> tuple[int, list[City]]:
    """Cities whose name contains ``search`` (any case), optionally of one country: how
    many, and those from ``offset`` on, by country and name (the administrator's list)."""
    require_role(actor, Role.ADMIN, doing="manage cities")
    query = select(City)
    if search.strip():
        pattern = contains(search.strip().lower())
        query = query.where(func.lower(City.name).like(pattern, escape="\\"))
    if country:
        query = query.where(City.country_code == country.strip().upper())
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(query.order_by(City.country_code, City.name).offset(offset).limit(limit))
    return total, list(rows)


def get_city(session: Session, actor: Actor, city_id: int) -> City:
    require_role(actor, Role.ADMIN, doing="manage cities")
    city = session.get(City, city_id)
    if city is None:
        raise NotFound("city", city_id)
    return city


def _city_named(session: Session, country: str, name: str) -> City | None:
    return session.scalars(
        select(City).where(City.country_code == country, City.name == name)
    ).first()


def upsert_city(
    session: Session,
    actor: Actor,
    *,
    country_code: str,
    name: str,
    contact_email: str,
    now: datetime,
    languages: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
    **fields: Any,
) -> City:
    """``names``: the city's name per language (see ``workflow.names``); a language not
    given keeps its name, a blank one removes it."""
    require_role(actor, Role.ADMIN, Role.CITY, doing="change a city's details")
    country, name, values = _city_values(
        session, country_code, name, contact_email, languages, fields
    )
    city = _city_named(session, country.code, name)
    if actor.role is Role.CITY and (city is None or city.id != actor.city_id):
        raise NotAllowed("A city can change only its own details.", "other_city", kind="city")
    if names is not None:
        values["names"] = merged(city.names if city else {}, _names(names, "name_", languages))
    if city is None:
        city = City(country_code=country.code, name=name, **values)
        session.add(city)
    else:
        for key, value in values.items():
            setattr(city, key, value)
    flush(session, "city", name)
    session.refresh(city)
    return city


def _refuse_taken(session: Session, country: Country, name: str, city_id: int | None) -> None:
    other = _city_named(session, country.code, name)
    if other is not None and other.id != city_id:
        raise FieldInvalid(
            "city_exists", "name", f"{country.code} has a city {name!r} already.",
            label="field.city_name", value=name, country=country.name,
        )  # fmt: skip


def create_city(
    session: Session,
    actor: Actor,
    *,
    country_code: str,
    name: str,
    contact_email: str,
    now: datetime,
    languages: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
    **fields: Any,
) -> City:
    """A new city (the administrator's page); a name its country has already is refused.
    ``names``: its name per language."""
    require_role(actor, Role.ADMIN, doing="create cities")
    country, name, values = _city_values(
        session, country_code, name, contact_email, languages, fields
    )
    values["names"] = merged({}, _names(names or {}, "name_", languages))
    _refuse_taken(session, country, name, None)
    city = City(country_code=country.code, name=name, **values)
    session.add(city)
    flush(session, "city", name)
    audit(session, actor, subject_type="city", subject_id=city.id, action="create", now=now,
          comment=f"{country.code}/{name}")  # fmt: skip
    return city


def update_city(
    session: Session,
    actor: Actor,
    city_id: int,
    *,
    country_code: str,
    name: str,
    contact_email: str,
    now: datetime,
    languages: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
    **fields: Any,
) -> City:
    """Change any of a city's details, its name and country too; a blank field is cleared.
    ``names``: its name per language (a language not given keeps its name)."""
    require_role(actor, Role.ADMIN, doing="change cities")
    city = session.get(City, city_id)
    if city is None:
        raise NotFound("city", city_id)
    country, name, values = _city_values(
        session, country_code, name, contact_email, languages, fields, blank_clears=True
    )
    if names is not None:
        values["names"] = merged(city.names, _names(names, "name_", languages))
    _refuse_taken(session, country, name, city.id)
    changed = sorted(
        key for key, value in {"country_code": country.code, "name": name, **values}.items()
        if getattr(city, key) != value
    )  # fmt: skip
    city.country_code, city.name = country.code, name
    for key, value in values.items():
        setattr(city, key, value)
    flush(session, "city", name)
    if changed:
        audit(session, actor, subject_type="city", subject_id=city.id, action="change", now=now,
              comment=", ".join(changed))  # fmt: skip
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
        raise InvalidInput(
            f"{ref!r} names cities in several countries; write it as CC/{name}.",
            "city_ambiguous",
            value=ref,
        )
    return found[0]
