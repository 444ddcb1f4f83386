"""When the PostgreSQL server goes away: a restart, an operator's ``pg_terminate_backend``,
or no server at all (web.outage, workflow.db.lost_connection and unreachable).

- Every connection the portal holds is dropped at once (what a restart does to them): the
  next pages are answered as if nothing happened, with the page cache and without it,
  because a statement that finds its connection gone runs again on a new one.
- A unit of work whose pooled connection was dropped runs again (``workflow.db.retried``).
- No server answers: a page is a 503 in the reader's language with ``Retry-After``, the
  API a JSON refusal with its code; the log has one line, not a traceback.

Against the real server. SQLite has no server to lose: its file is opened by the process.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from config import load_settings
from tests.conftest import _truncate_pg
from tests.e2e.clients import visitor
from tests.e2e.live import free_port, live_portal
from web.app import create_app
from workflow import db
from workflow.db import lost_connection, make_engine, retried, session_factory, transaction

pytestmark = pytest.mark.postgres

START = datetime(2027, 3, 10, 9, tzinfo=UTC)
#: The portal's connections carry this name, so the test drops only theirs.
NAME = "gnlc_outage_test"


def _drop_connections(url: str) -> int:
    """Terminate every connection named :data:`NAME` to ``url``'s database, as a restart
    would; how many."""
    admin = create_engine(url.split("?", 1)[0], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        pids = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
            {"name": NAME},
        ).scalars().all()  # fmt: skip
        for pid in pids:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        # pg_terminate_backend only signals: wait until they are gone.
        for _ in range(200):
            left = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": NAME},
            ).scalar_one()
            if not left:
                break
            time.sleep(0.02)
    admin.dispose()
    return len(pids)


@pytest.fixture
def named_url(pg_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    _truncate_pg(pg_database)
    # A connection used a moment ago is handed out untested (workflow.db._ping_after_idle):
    # the drop is found by the statement itself, the case this file is about.
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 3600.0)
    yield f"{pg_database}?application_name={NAME}"


@pytest.mark.parametrize("page_cache_mb", [0, 8], ids=["every view drawn", "page cache"])
def test_every_connection_dropped_at_once_costs_nobody_a_page(
    named_url: str, tmp_path: Path, page_cache_mb: int
) -> None:
    with live_portal(named_url, tmp_path, START, web={"page_cache_mb": page_cache_mb}) as live:
        city = visitor(live.url, "jelgava@example.org")
        try:
            before = city.pages.get("/applications")
            assert before.status_code == 200
            listed = city.api.get("/api/v1/applications")
            assert listed.status_code == 200
            for _ in range(2):  # twice: the second time, the connections opened after
                assert _drop_connections(named_url) >= 1
                again = city.pages.get("/applications")
                assert again.status_code == 200, again.text[:300]
                assert again.text == before.text
                assert city.api.get("/api/v1/applications").json() == listed.json()
        finally:
            city.close()


def test_a_unit_of_work_runs_again_on_a_new_connection(named_url: str) -> None:
    engine = make_engine(named_url, pool_size=1, max_overflow=0)
    factory = session_factory(engine)
    runs: list[int] = []

    @retried
    def backend() -> int:
        with transaction(factory) as session:
            runs.append(1)
            return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())

    first = backend()
    assert _drop_connections(named_url) == 1
    assert backend() != first
    assert len(runs) == 3  # the first call once; the second twice (dropped, then anew)
    engine.dispose()


def test_a_failed_commit_is_not_run_again() -> None:
    # Whether a COMMIT that lost its connection reached the server is unknown: running
    # the work again could do it twice. SQLAlchemy names no statement for a COMMIT.
    def dropped(statement: str | None) -> DBAPIError:
        gone = Exception("server closed the connection unexpectedly")
        return DBAPIError(statement, None, gone, connection_invalidated=True)

    assert lost_connection(dropped("SELECT 1")) and db.is_retryable(dropped("SELECT 1"))
    assert not lost_connection(dropped(None))  # the COMMIT
    assert not db.is_retryable(dropped(None))


def test_no_database_server_is_a_503_in_the_readers_words(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = f"postgresql+psycopg://127.0.0.1:{free_port()}/gnlc"  # nothing listens there
    settings = load_settings({}).with_overrides(
        database={"url": nowhere},
        mail={"maildir": str(tmp_path / "mail")},
        web={"demo_data": False, "secret_key": secrets.token_urlsafe(48)},
    )
    app = create_app(settings, clock=lambda: START)

    async def story() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://portal", cookies={"gnlc_lang": "fr"}
        ) as client:
            form = await client.get("/login")  # reads nothing from the database
            assert form.status_code == 200
            found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert found is not None
            page = await client.post(
                "/login",
                data={"csrf_token": found.group(1), "email": "a@example.org", "password": "x"},
            )
            api = await client.post(
                "/api/v1/session", json={"email": "a@example.org", "password": "x"}
            )
            return page, api

    with caplog.at_level(logging.WARNING):
        page, api = asyncio.run(story())
    assert page.status_code == 503 and page.headers["retry-after"] == "30"
    assert page.headers["content-type"].startswith("text/html")
    text = html.unescape(page.text)
    assert "sa base de données n'a pas répondu" in text
    # Nothing was refused: the page says the service is unavailable (a change sent just
    # before may even have been saved), never "Action refusée".
    assert "<h1>Indisponible pour l'instant</h1>" in text
    assert "Action refusée" not in text
    assert "csrf_token" in page.text  # the page's own forms (languages) still work
    assert api.status_code == 503 and api.headers["retry-after"] == "30"
    assert api.json()["code"] == "database_unavailable"
    said = [r for r in caplog.records if r.name == "web.outage"]
    assert [r.levelno for r in said] == [logging.WARNING, logging.WARNING]
    assert all(r.exc_info is None for r in said)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
