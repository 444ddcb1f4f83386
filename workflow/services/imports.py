"""CSV imports of countries, cities and existing members (all rows or none)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
from workflow.actors import Actor, require_role
from workflow.errors import InvalidInput
from workflow.models import City, Country, Membership
from workflow.services.directory import (
    CITY_FIELDS,
    CITY_REQUIRED_FOR_SUBMISSION,
    upsert_city,
    upsert_country,
)
from workflow.services.memberships import import_member
from workflow.states import Role


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
            f"{', '.join(header) or '(empty)'}.",
            "csv_columns",
            missing=", ".join(missing),
            header=", ".join(header) or "—",
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
        raise InvalidInput(
            f"{kind} CSV: {len(errors)} bad row(s), nothing imported: {shown}",
            "csv_rows",
            count=len(errors),
            rows=shown,
        )
    return ImportResult(kind, len(rows), created)


def import_countries(
    session: Session,
    actor: Actor,
    text: str,
    *,
    now: datetime,
    progress: Progress | None = None,
    languages: Sequence[str] | None = None,
) -> ImportResult:
    """``languages``: the running ``[network] languages`` (the shipped list if not given)."""
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
            languages=languages,
            region=row.get("region", ""),
            commission_names=_per_language(row, "commission_name_"),
        )
        return new

    return _run_rows(rows, "countries", handle, progress)


def _per_language(row: dict[str, str], prefix: str) -> dict[str, str]:
    """The optional ``<prefix><lang>`` columns of a row (``commission_name_fr``,
    ``name_lv``): a name per language (``workflow.names``); a blank cell keeps it."""
    return {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix) and v}


def _city_from_row(
    session: Session,
    actor: Actor,
    row: dict[str, str],
    now: datetime,
    languages: Sequence[str] | None,
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
        languages=languages,
        names=_per_language(row, "name_"),
        **{k: row.get(k) for k in CITY_FIELDS if row.get(k)},
    )
    return city, exists is None


def _ready_to_apply(row: dict[str, str]) -> None:
    """A city is imported to apply: refuse a row without what submission will need, now
    rather than at the city's first submission."""
    missing = [name for name in CITY_REQUIRED_FOR_SUBMISSION if not row.get(name)]
    if missing:
        raise InvalidInput(
            f"{', '.join(missing)}: required (an application from this city cannot be "
            "submitted without it)",
            "csv_required",
            columns=", ".join(missing),
        )


def import_cities(
    session: Session,
    actor: Actor,
    text: str,
    *,
    now: datetime,
    progress: Progress | None = None,
    languages: Sequence[str] | None = None,
) -> ImportResult:
    """Cities that will apply: each row has the details submission needs
    (``CITY_REQUIRED_FOR_SUBMISSION``). ``languages`` as for :func:`import_countries`."""
    require_role(actor, Role.ADMIN, doing="import cities")
    rows = _read_csv(text, ("country", "name", "contact_email"), "cities")

    def handle(row: dict[str, str]) -> bool:
        _, new = _city_from_row(session, actor, row, now, languages)
        _ready_to_apply(row)
        return new

    return _run_rows(rows, "cities", handle, progress)


def _admission_date(raw: str) -> date:
    try:
        if re.fullmatch(r"\d{4}", raw):
            return date(int(raw), 1, 1)
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(
            f"admitted: {raw!r} is not a year (2016) or a date (2016-11-05).",
            "not_year",
            value=raw,
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
        city, _ = _city_from_row(session, actor, row, now, settings.network.languages)
        known = session.scalars(select(Membership.id).where(Membership.city_id == city.id)).first()
        import_member(session, settings, actor, city, admitted_on=admitted, now=now)
        return known is None

    return _run_rows(rows, "members", handle, progress)
