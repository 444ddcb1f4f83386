"""Countries, cities, users, and CSV imports of them (all or nothing)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from config import Settings
from config.settings import check_timezone
from workflow.actors import Actor, require_role
from workflow.errors import InvalidInput, NotFound
from workflow.models import City, Country, Membership, User, UserSession
from workflow.services.common import audit, flush
from workflow.services.memberships import import_member
from workflow.states import Role

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
LANGUAGES = ("en", "fr", "lv", "ru")


def check_email(value: str, field: str = "email") -> str:
    value = value.strip()
    if not _EMAIL.match(value) or len(value) > 254:
        raise InvalidInput(f"{field}: {value!r} is not an email address like name@example.org.")
    return value


def check_language(value: str, field: str = "language") -> str:
    value = (value or "en").strip().lower()
    if value not in LANGUAGES:
        raise InvalidInput(f"{field}: {value!r} is not one of {', '.join(LANGUAGES)}.")
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
) -> Country:
    require_role(actor, Role.ADMIN, doing="change countries")
    code = code.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise InvalidInput(f"code: {code!r} is not a two-letter ISO country code like LV.")
    if not name.strip():
        raise InvalidInput("name: required.")
    try:
        check_timezone(timezone)
    except ValueError as exc:
        raise InvalidInput(f"timezone: {exc}") from exc
    values = {
        "name": name.strip(),
        "commission_name": commission_name.strip() or f"National Commission of {name.strip()}",
        "commission_email": check_email(commission_email, "commission_email"),
        "language": check_language(language),
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


def upsert_city(
    session: Session,
    actor: Actor,
    *,
    country_code: str,
    name: str,
    contact_email: str,
    now: datetime,
    **fields: Any,
) -> City:
    require_role(actor, Role.ADMIN, Role.CITY, doing="change a city's details")
    country = session.get(Country, country_code.strip().upper())
    if country is None:
        raise InvalidInput(f"country: no country {country_code!r}; import countries first.")
    if not name.strip():
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
            value = check_language(str(value))
        else:
            value = str(value).strip()
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


def create_user(
    session: Session,
    actor: Actor,
    *,
    email: str,
    name: str,
    role: str,
    now: datetime,
    country_code: str | None = None,
    city_id: int | None = None,
    language: str = "en",
    password_hash: str | None = None,
) -> User:
    require_role(actor, Role.ADMIN, doing="create users")
    role_value = _role(role)
    email = check_email(email).lower()
    if session.scalars(select(User).where(User.email == email)).first() is not None:
        raise InvalidInput(f"email: a user with {email} exists already.")
    country_code, city_id = _scope(session, role_value, country_code, city_id)
    user = User(
        email=email,
        name=name.strip() or email,
        role=role_value.value,
        country_code=country_code,
        city_id=city_id,
        language=check_language(language),
        password_hash=password_hash,
        active=True,
        created_at=now,
    )
    session.add(user)
    flush(session, "user", email)
    audit(
        session,
        actor,
        subject_type="user",
        subject_id=user.id,
        action="create",
        now=now,
        comment=f"{email} as {role_value.value}",
    )
    return user


def _role(role: str) -> Role:
    try:
        role_value = Role(role)
    except ValueError as exc:
        roles = ", ".join(r.value for r in Role if r is not Role.SYSTEM)
        raise InvalidInput(f"role: {role!r} is not one of {roles}.") from exc
    if role_value is Role.SYSTEM:
        raise InvalidInput("role: 'system' is reserved for the scheduler.")
    return role_value


def _scope(
    session: Session, role: Role, country_code: str | None, city_id: int | None
) -> tuple[str | None, int | None]:
    """The (country, city) a user of ``role`` is scoped to, checked."""
    if role is Role.CITY:
        city = session.get(City, city_id) if city_id is not None else None
        if city is None:
            raise InvalidInput("A city user needs an existing city (--city).")
        return city.country_code, city.id
    if role is Role.COMMISSION:
        if not country_code or session.get(Country, country_code.upper()) is None:
            raise InvalidInput("A Commission user needs an existing country (--country).")
        return country_code.upper(), None
    return None, None


def revoke_sessions(session: Session, user_id: int | None, *, now: datetime) -> int:
    """End every session and API token of ``user_id`` (a changed password, role, scope
    or a deactivation), or of everyone when ``user_id`` is None (after a restore);
    returns how many were still open."""
    query = update(UserSession).where(UserSession.revoked_at.is_(None))
    if user_id is not None:
        query = query.where(UserSession.user_id == user_id)
    result = session.execute(query.values(revoked_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


def change_user(
    session: Session,
    actor: Actor,
    email: str,
    *,
    now: datetime,
    role: str | None = None,
    country_code: str | None = None,
    city_id: int | None = None,
    active: bool | None = None,
) -> User:
    """Change a user's role, scope or whether the account may sign in. Any change ends
    every session of the user: they sign in again with what they may now do."""
    require_role(actor, Role.ADMIN, doing="change users")
    user = user_by_email(session, email)
    role_value = _role(role) if role is not None else Role(user.role)
    scope_given = role is not None or country_code is not None or city_id is not None
    if scope_given:
        country, city = _scope(
            session,
            role_value,
            country_code if country_code is not None else user.country_code,
            city_id if city_id is not None else user.city_id,
        )
    else:
        country, city = user.country_code, user.city_id
    before = (user.role, user.country_code, user.city_id, user.active)
    user.role, user.country_code, user.city_id = role_value.value, country, city
    if active is not None:
        user.active = active
    after = (user.role, user.country_code, user.city_id, user.active)
    if after == before:
        return user
    flush(session, "user", user.email)
    ended = revoke_sessions(session, user.id, now=now)
    scope = user.country_code or ""
    if user.city_id is not None:
        scope += f", city {user.city_id}"
    audit(
        session,
        actor,
        subject_type="user",
        subject_id=user.id,
        action="change",
        now=now,
        comment=(
            f"{user.email}: {user.role}{' (' + scope + ')' if scope else ''}, "
            f"{'active' if user.active else 'inactive'}; {ended} session(s) ended"
        ),
    )
    return user


def actor_for(user: User) -> Actor:
    return Actor(Role(user.role), user.name, user.id, user.country_code, user.city_id)


def user_by_email(session: Session, email: str) -> User:
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise NotFound("user", email)
    return user


# --- CSV imports -------------------------------------------------------------------------


@dataclass
class ImportResult:
    kind: str
    rows: int
    created: int


Progress = Callable[[int], None]


def _read_csv(text: str, required: Iterable[str], kind: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidInput(
            f"{kind} CSV: missing column(s) {', '.join(missing)}; the header was "
            f"{', '.join(header) or '(empty)'}."
        )
    return [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]


def _run_rows(
    rows: list[dict[str, str]],
    kind: str,
    handle: Callable[[dict[str, str]], bool],
    progress: Progress | None,
) -> ImportResult:
    errors: list[str] = []
    created = 0
    for number, row in enumerate(rows, start=2):
        try:
            created += int(handle(row))
        except InvalidInput as exc:
            errors.append(f"line {number}: {exc}")
        if progress:
            progress(1)
    if errors:
        shown = "; ".join(errors[:10]) + ("; ..." if len(errors) > 10 else "")
        raise InvalidInput(f"{kind} CSV: {len(errors)} bad row(s), nothing imported: {shown}")
    return ImportResult(kind, len(rows), created)


def import_countries(
    session: Session, actor: Actor, text: str, *, now: datetime, progress: Progress | None = None
) -> ImportResult:
    rows = _read_csv(text, ("code", "name", "commission_email"), "countries")

    def handle(row: dict[str, str]) -> bool:
        new = session.get(Country, row["code"].upper()) is None
        upsert_country(
            session,
            actor,
            code=row["code"],
            name=row["name"],
            commission_name=row.get("commission_name", ""),
            commission_email=row["commission_email"],
            language=row.get("language") or "en",
            timezone=row.get("timezone") or "UTC",
            now=now,
        )
        return new

    return _run_rows(rows, "countries", handle, progress)


def _city_from_row(
    session: Session, actor: Actor, row: dict[str, str], now: datetime
) -> tuple[City, bool]:
    exists = session.scalars(
        select(City.id).where(City.country_code == row["country"].upper(), City.name == row["name"])
    ).first()
    city = upsert_city(
        session,
        actor,
        country_code=row["country"],
        name=row["name"],
        contact_email=row["contact_email"],
        now=now,
        **{k: row.get(k) for k in CITY_FIELDS if row.get(k)},
    )
    return city, exists is None


def import_cities(
    session: Session, actor: Actor, text: str, *, now: datetime, progress: Progress | None = None
) -> ImportResult:
    require_role(actor, Role.ADMIN, doing="import cities")
    rows = _read_csv(text, ("country", "name", "contact_email"), "cities")
    return _run_rows(rows, "cities", lambda r: _city_from_row(session, actor, r, now)[1], progress)


def _admission_date(raw: str) -> date:
    try:
        if re.fullmatch(r"\d{4}", raw):
            return date(int(raw), 1, 1)
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(
            f"admitted: {raw!r} is not a year (2016) or a date (2016-11-05)."
        ) from exc


def import_members(
    session: Session,
    settings: Settings,
    actor: Actor,
    text: str,
    *,
    now: datetime,
    progress: Progress | None = None,
) -> ImportResult:
    """Existing members: a city row plus its admission year or date."""
    require_role(actor, Role.ADMIN, doing="import members")
    rows = _read_csv(text, ("country", "name", "contact_email", "admitted"), "members")

    def handle(row: dict[str, str]) -> bool:
        admitted = _admission_date(row["admitted"])
        city, _ = _city_from_row(session, actor, row, now)
        known = session.scalars(select(Membership.id).where(Membership.city_id == city.id)).first()
        import_member(session, settings, actor, city, admitted_on=admitted, now=now)
        return known is None

    return _run_rows(rows, "members", handle, progress)
