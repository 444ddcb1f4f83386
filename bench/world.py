"""Bulk-loaded worlds for the benchmarks (setup is not measured, so it is plain SQL).

Countries get two-letter codes AA, AB, ...; each has its Commission. Cities are spread
over the countries, three per country as the quota allows, in the four languages.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select

from workflow.models import (
    Application,
    Call,
    City,
    Country,
    Membership,
    Report,
    UploadedFile,
)
from workflow.services.applications import CHALLENGES

LANGUAGES = ("en", "fr", "lv", "ru")
TIMEZONES = ("Europe/Berlin", "Europe/Riga", "Europe/Paris", "UTC")
CALL_OPENS = date(2027, 3, 1)
#: An instant inside the benchmark call's window.
IN_WINDOW = datetime(2027, 4, 10, 10, 0, tzinfo=UTC)
MOTIVATION = " ".join(["Learning for all ages in every district of the city."] * 12)
PLAN = " ".join(["Map providers, open learning festivals, monitor yearly."] * 12)
CHUNK = 5000


def country_codes() -> Iterator[str]:
    for a, b in itertools.product(string.ascii_uppercase, repeat=2):
        yield a + b


@dataclass(frozen=True)
class Applicants:
    """Cities with a complete draft each in one open call."""

    call_id: int
    applications: list[tuple[int, int, str]]  # (application id, city id, country code)


def _insert(engine: Engine, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        for start in range(0, len(rows), CHUNK):
            conn.execute(insert(table), list(rows[start : start + CHUNK]))


def settle(engine: Engine) -> None:
    """After a bulk load, on PostgreSQL: the planner statistics that autovacuum gathers
    within a minute of a load this size, gathered at once, so that the figures do not
    depend on whether it woke before the measurement. Without them PostgreSQL takes each
    table for a few rows and plans nested loops over them: at 100k members the sweep's
    report obligations took 0.37 s instead of 0.07 s. (SQLite has no autovacuum, and the
    product runs no ANALYZE there: its worlds are measured as they are.)"""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")


def load_countries(engine: Engine, count: int) -> list[str]:
    """The first ``count`` codes; those not stored yet are inserted."""
    codes = list(itertools.islice(country_codes(), count))
    with engine.connect() as conn:
        have = set(conn.execute(select(Country.code)).scalars())
    _insert(
        engine,
        Country.__table__,
        [
            {
                "code": code,
                "name": f"Country {code}",
                "commission_name": f"National Commission for UNESCO of {code}",
                "commission_email": f"commission.{code.lower()}@unesco.example.org",
                "language": LANGUAGES[i % 4],
                "timezone": TIMEZONES[i % 4],
            }
            for i, code in enumerate(codes)
            if code not in have
        ],
    )
    return codes


def load_cities(
    engine: Engine, count: int, per_country: int = 3, prefix: str = "City"
) -> list[tuple[int, str]]:
    """``count`` more cities, ``per_country`` per country; returns (city id, country code)
    of the new ones."""
    codes = load_countries(engine, max(1, -(-count // per_country)))
    with engine.connect() as conn:
        first = int(conn.execute(select(func.coalesce(func.max(City.id), 0))).scalar_one())
    rows = [
        {
            "name": f"{prefix} {i}",
            "country_code": codes[i // per_country],
            "website": f"https://city{i}.example.org",
            "mayor_name": f"Mayor of City {i}",
            "mayor_title": "Mayor",
            "contact_name": f"Focal point of City {i}",
            "contact_email": f"{prefix.lower()}{i}@city.example.org",
            "contact_phone": "+371 6000 0000",
            "language": LANGUAGES[i % 4],
            "population": 50_000 + i,
        }
        for i in range(count)
    ]
    _insert(engine, City.__table__, rows)
    with engine.connect() as conn:
        found = conn.execute(
            select(City.id, City.country_code).where(City.id > first).order_by(City.id)
        ).all()
    return [(city_id, code) for city_id, code in found]


def load_call(engine: Engine, *, quota: int = 3) -> int:
    now = datetime(2027, 1, 5, tzinfo=UTC)
    with engine.begin() as conn:
        result = conn.execute(
            insert(Call).returning(Call.id),
            {
                "name": "bench-2027",
                "opens_on": CALL_OPENS,
                "closes_on": date(2027, 4, 30),
                "commission_deadline": date(2027, 5, 30),
                "quota": quota,
                "timezone": "Europe/Berlin",
                "generated": False,
                "cancel_reason": "",
                "created_at": now,
                "version": 1,
            },
        )
        return int(result.scalar_one())


def load_applicants(engine: Engine, count: int, per_country: int = 3) -> Applicants:
    """``count`` cities (``per_country`` per country), each with a complete draft."""
    cities = load_cities(engine, count, per_country, prefix="Applicant")
    call_id = load_call(engine, quota=3)
    created = datetime(2027, 3, 2, tzinfo=UTC)
    _insert(
        engine,
        Application.__table__,
        [
            {
                "call_id": call_id,
                "city_id": city_id,
                "country_code": code,
                "route": "commission",
                "state": "draft",
                "version": 1,
                "motivation": MOTIVATION,
                "implementation_plan": PLAN,
                "challenges": dict.fromkeys(CHALLENGES, 3),
                "signed_by": "The Mayor",
                "signed_form": f"bench-{city_id}.pdf",
                "endorsement": "",
                "created_at": created,
                "updated_at": created,
            }
            for city_id, code in cities
        ],
    )
    with engine.connect() as conn:
        found = conn.execute(
            select(Application.id, Application.city_id, Application.country_code).order_by(
                Application.id
            )
        ).all()
        stored = set(conn.execute(select(UploadedFile.stored_name)).scalars())
    # the signed form on file (a submission needs it; the bench stores no bytes)
    files = {
        f"bench-{c}.pdf": {
            "application_id": a,
            "filename": "signed-form.pdf",
            "stored_name": f"bench-{c}.pdf",
            "size": 1,
            "sha256": "0" * 64,
            "uploaded_at": created,
        }
        for a, c, _ in found
    }
    _insert(engine, UploadedFile.__table__, [f for n, f in files.items() if n not in stored])
    return Applicants(call_id, [(a, c, k) for a, c, k in found])


def load_members(
    engine: Engine,
    count: int,
    *,
    admitted: Sequence[int],
    due_on: date,
    reports_from: date,
    countries: int = 200,
) -> None:
    """``count`` active members in ``countries`` countries, admitted in the years
    ``admitted`` (round robin), reporting from ``reports_from``, each with one open report
    obligation due on ``due_on``."""
    cities = load_cities(engine, count, max(1, -(-count // countries)))
    since = datetime(2020, 1, 1, tzinfo=UTC)
    _insert(
        engine,
        Membership.__table__,
        [
            {
                "city_id": city_id,
                "application_id": None,
                "admitted_on": date(admitted[i % len(admitted)], 6, 1),
                "admission_year": admitted[i % len(admitted)],
                "reports_from": reports_from,
                "state": "active",
                "version": 1,
                "state_since": since,
            }
            for i, (city_id, _) in enumerate(cities)
        ],
    )
    with engine.connect() as conn:
        members = conn.execute(select(Membership.id).order_by(Membership.id)).scalars().all()
    _insert(
        engine,
        Report.__table__,
        [
            {
                "membership_id": member_id,
                "due_on": due_on,
                "state": "open",
                "version": 1,
                "summary": "",
                "late": False,
                "created_at": since,
            }
            for member_id in members
        ],
    )
