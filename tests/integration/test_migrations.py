"""Alembic migrations on an empty SQLite file and an empty PostgreSQL database: every table
and column of the models is created, downgrade to base and upgrade again work, and the
audit log refuses UPDATE and DELETE at the database itself."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import PG_ADMIN_URL, utc
from workflow.db import alembic_config, make_engine, upgrade
from workflow.models import AuditEvent, Base


def model_tables() -> dict[str, set[str]]:
    """Tables and columns of the models (called after an upgrade: the migration
    environment imports every module that declares tables, the portal's included)."""
    return {name: {c.name for c in table.columns} for name, table in Base.metadata.tables.items()}


def db_tables(url: str) -> dict[str, set[str]]:
    engine = create_engine(url)
    try:
        found = inspect(engine)
        return {
            name: {c["name"] for c in found.get_columns(name)}
            for name in found.get_table_names()
            if name != "alembic_version"
        }
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, created for this test and dropped after it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any connection failure means: no server here
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({type(exc).__name__})")
    name = f"gnlc_migr_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_creates_every_table_of_the_models(empty_url: str) -> None:
    assert db_tables(empty_url) == {}
    upgrade(empty_url)
    assert db_tables(empty_url) == model_tables()
    assert {"countries", "cities", "calls", "applications", "memberships", "reports"} <= set(
        model_tables()
    )
    assert {"audit_events", "outbox", "users"} <= set(model_tables())


def test_downgrade_to_base_and_upgrade_again(empty_url: str) -> None:
    upgrade(empty_url)
    command.downgrade(alembic_config(empty_url), "base")
    assert db_tables(empty_url) == {}
    upgrade(empty_url)
    assert db_tables(empty_url) == model_tables()
    upgrade(empty_url)  # a second upgrade at head changes nothing
    assert db_tables(empty_url) == model_tables()


def test_audit_log_refuses_update_and_delete(empty_url: str) -> None:
    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                AuditEvent.__table__.insert().values(  # type: ignore[attr-defined]
                    at=utc(2027, 3, 2),
                    actor_name="test",
                    role="admin",
                    subject_type="application",
                    subject_id=1,
                    action="create",
                    comment="original",
                )
            )
        for statement in (
            "UPDATE audit_events SET comment = 'rewritten'",
            "DELETE FROM audit_events",
        ):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT comment FROM audit_events")).scalars().all()
        assert rows == ["original"]
        # appending stays possible
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_events (at, actor_name, role, subject_type, subject_id,"
                    " action, comment) VALUES (:at, 'x', 'admin', 'call', 2, 'create', '')"
                ),
                {"at": utc(2027, 3, 3).replace(tzinfo=None)},
            )
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() == 2
    finally:
        engine.dispose()


def test_the_quick_head_check_agrees_with_alembic() -> None:
    """``workflow.db.migration_heads`` (read commands start without importing Alembic)
    names the same head as Alembic's own script directory."""
    from alembic.script import ScriptDirectory

    from workflow.db import alembic_config, migration_heads

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert migration_heads() == set(script.get_heads())
    assert len(migration_heads()) == 1
