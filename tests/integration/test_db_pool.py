"""PostgreSQL connections that the server dropped while they waited in the pool
(``workflow.db._ping_after_idle``): a restart, an idle timeout, an operator's
``pg_terminate_backend``. Against the real server."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from workflow import db
from workflow.db import make_engine

pytestmark = pytest.mark.postgres


def _backend(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(url: str, pid: int) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        # pg_terminate_backend only signals; wait until the backend is gone.
        for _ in range(100):
            alive = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar_one()
            if not alive:
                break
            time.sleep(0.02)
    admin.dispose()


def _one_dropped(
    url: str, monkeypatch: pytest.MonkeyPatch, *, ping_after: float
) -> tuple[Engine, int]:
    """An engine with one pooled connection, which the server has just dropped; its pid."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE", ping_after)
    engine = make_engine(url, pool_size=1, max_overflow=0)
    first = _backend(engine)
    _terminate(url, first)
    return engine, first


def test_a_connection_dropped_while_idle_is_replaced_before_it_is_used(
    pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, first = _one_dropped(pg_database, monkeypatch, ping_after=0.05)
    time.sleep(0.1)  # idle longer than PING_AFTER_IDLE: tested at checkout
    # The request that follows does not see the dropped connection.
    second = _backend(engine)
    assert second != first
    assert _backend(engine) == second  # the fresh one stays in the pool
    engine.dispose()


def test_a_connection_used_again_at_once_is_not_tested(
    pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The other side of the trade: no round trip for a connection that was busy a moment
    # ago. Dropped within that moment, its next use fails once, and the pool recovers.
    engine, first = _one_dropped(pg_database, monkeypatch, ping_after=3600.0)
    with pytest.raises(DBAPIError) as failed:
        _backend(engine)
    assert failed.value.connection_invalidated
    assert _backend(engine) != first
    engine.dispose()
