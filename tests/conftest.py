"""Shared fixtures: real SQLite files, a real PostgreSQL server, and a small world.

``db_url`` runs a test once on SQLite (a fresh file per test, copied from a migrated
template) and once on PostgreSQL (one migrated database per run, emptied between tests
with TRUNCATE). PostgreSQL is reached over the local socket as the current user, or at
``GNLC_TEST_PG_URL``; when no server answers, its cases are skipped saying so.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, load_settings
from config.paths import uploads_folder
from notifications import wiring
from workflow.actors import Actor
from workflow.db import make_engine, session_factory, transaction, upgrade
from workflow.models import Base
from workflow.services import applications as apps
from workflow.services import directory
from workflow.states import Role
from workflow.uploads import store_signed_form

PG_ADMIN_URL = os.environ.get("GNLC_TEST_PG_URL", "postgresql+psycopg:///postgres")
ADMIN = Actor(Role.ADMIN, "test admin")
INSTITUTE = Actor(Role.INSTITUTE, "UIL officer")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture(autouse=True)
def wired() -> None:
    """The domain's events write the outbox, as every composition root wires it."""
    wiring.install()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A migrated PostgreSQL database for this run, dropped at the end."""
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any connection failure means: no server here
        pytest.skip(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({type(exc).__name__}); "
            "start it as .ci/run does (pg_ctlcluster 15 main start) to run these cases"
        )
    name = f"gnlc_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        # The audit log refuses TRUNCATE (a trigger); between tests, as the superuser,
        # switch triggers off for this one transaction.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "gnlc.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    _truncate_pg(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only, for tests whose subject is not the database."""
    path = tmp_path / "gnlc.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return load_settings({}).with_overrides(
        database={"url": db_url}, mail={"maildir": str(tmp_path / "mail")}
    )


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@dataclass
class World:
    """Three countries with their Commissions, four cities and their actors."""

    factory: sessionmaker[Session]
    settings: Settings
    cities: dict[str, int]

    def city(self, name: str) -> Actor:
        code = {"Jelgava": "LV", "Valmiera": "LV", "Tartu": "EE", "Lyon": "FR"}[name]
        return Actor(Role.CITY, f"{name} focal point", city_id=self.cities[name], country_code=code)

    @staticmethod
    def commission(code: str) -> Actor:
        return Actor(Role.COMMISSION, f"{code} Commission officer", country_code=code)

    def draft(self, city: str, now: datetime, *, signed: bool = True, **form: Any) -> int:
        """A complete draft of ``city`` in the call open at ``now``; with ``signed`` (the
        default) its signed form is on file too, so it may be submitted."""
        values: dict[str, Any] = {
            "motivation": "Learning for all ages in every district.",
            "implementation_plan": "Map providers; open learning festivals; monitor yearly.",
            "challenges": dict.fromkeys(apps.CHALLENGES, 3),
            "signed_by": "The Mayor",
            **form,
        }
        with transaction(self.factory) as session:
            app_id = apps.create_draft(
                session, self.settings, self.city(city), now=now, **values
            ).id
        if signed:
            self.attach(city, app_id, now)
        return app_id

    def attach(self, city: str | Actor, app_id: int, now: datetime) -> None:
        """The signed form of ``city``'s application on file (a small valid PDF)."""
        with transaction(self.factory) as session:
            store_signed_form(
                session,
                self.settings,
                self.city(city) if isinstance(city, str) else city,
                app_id,
                filename="signed-form.pdf",
                data=SIGNED_PDF,
                folder=uploads_folder(self.settings),
                now=now,
            )


#: The signed form the tests' drafts carry (the example of docs/examples/).
SIGNED_PDF = (Path(__file__).parent.parent / "docs" / "examples" / "signed-form.pdf").read_bytes()


COUNTRIES = [
    (
        "LV",
        "Latvia",
        "Latvian National Commission for UNESCO",
        "office@unesco.lv",
        "lv",
        "Europe/Riga",
    ),
    (
        "EE",
        "Estonia",
        "Estonian National Commission for UNESCO",
        "unesco@unesco.ee",
        "en",
        "Europe/Tallinn",
    ),
    (
        "FR",
        "France",
        "Commission nationale française pour l'UNESCO",
        "cnfu@unesco.fr",
        "fr",
        "Europe/Paris",
    ),
]
CITIES = [
    ("LV", "Jelgava", "pasts@jelgava.lv", "lv"),
    ("LV", "Valmiera", "info@valmiera.lv", "en"),
    ("EE", "Tartu", "linn@tartu.ee", "en"),
    ("FR", "Lyon", "education@lyon.fr", "fr"),
]


def build_world(factory: sessionmaker[Session], settings: Settings) -> World:
    now = utc(2027, 1, 10)
    ids: dict[str, int] = {}
    with transaction(factory) as session:
        for code, name, commission, email, lang, tz in COUNTRIES:
            directory.upsert_country(
                session,
                ADMIN,
                code=code,
                name=name,
                commission_name=commission,
                commission_email=email,
                language=lang,
                timezone=tz,
                now=now,
            )
        for code, name, email, lang in CITIES:
            city = directory.upsert_city(
                session,
                ADMIN,
                country_code=code,
                name=name,
                contact_email=email,
                language=lang,
                mayor_name=f"Mayor of {name}",
                mayor_title="Mayor",
                contact_name=f"{name} focal point",
                now=now,
            )
            ids[name] = city.id
    return World(factory, settings, ids)


@pytest.fixture
def world(factory: sessionmaker[Session], settings: Settings) -> World:
    return build_world(factory, settings)
