"""A unit of work that loses a race runs again (workflow.db.retried), on SQLite and on
PostgreSQL, with genuine losses provoked by a second connection, not a mocked error:

- PostgreSQL: a real deadlock. The handler locks row AA; an opponent locks BB and waits
  for AA; then the handler asks for BB. The handler has the shorter
  ``deadlock_timeout``, so it is the one PostgreSQL picks as the victim (40P01).
- SQLite: a real lock timeout. The opponent holds the write lock, so the handler's
  ``BEGIN IMMEDIATE`` gives up after its (shortened) busy timeout: "database is locked".

The loser runs again and succeeds; a handler that loses every time gets :class:`Busy`
after ``ATTEMPTS`` runs, with nothing of its own saved. Through the portal, Busy reaches
an API client as a 503 JSON refusal with code "busy" and a page reader as an HTML page,
and a handler run again reads its uploaded file from the start (web.routing). A page view
marked to run on the event loop (``web.routing.in_loop``) runs there, not in a worker
thread as a plain view does, and is retried the same way.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, File, UploadFile
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, load_settings
from tests.e2e.live import free_port
from web.app import create_app
from web.routing import RetryingRoute, in_loop
from workflow.db import ATTEMPTS, make_engine, retried, session_factory, transaction
from workflow.errors import Busy

WAIT_SECONDS = 30.0  # an upper bound for the opponent's steps, never reached when all is well
MARKS = "SELECT name FROM countries WHERE code = :code"


def _seed(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        for code in ("AA", "BB"):
            session.execute(
                text(
                    "INSERT INTO countries (code, name, commission_name, commission_email, "
                    "language, timezone) VALUES (:code, :code, 'C', 'c@example.org', 'en', 'UTC')"
                ),
                {"code": code},
            )


def _mark(session: Session, code: str, who: str) -> None:
    session.execute(
        text("UPDATE countries SET name = name || :who WHERE code = :code"),
        {"who": who, "code": code},
    )


class Opponent:
    """A second connection that makes the handler's current run lose, then commits its
    own change (``+o`` on row BB, and on AA for PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.factory = session_factory(engine)
        self.postgres = engine.dialect.name == "postgresql"
        self.ready = threading.Event()
        self.release = threading.Event()
        self.pid: int | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            with transaction(self.factory) as session:
                if self.postgres:
                    # The opponent waits long before it looks for a deadlock: the
                    # handler finds it first and is the one rolled back.
                    session.execute(text("SET LOCAL deadlock_timeout = '60s'"))
                    self.pid = session.scalar(text("SELECT pg_backend_pid()"))
                _mark(session, "BB", "+o")
                self.ready.set()
                if self.postgres:
                    _mark(session, "AA", "+o")  # waits for the handler's lock on AA
                else:
                    self.release.wait(WAIT_SECONDS)  # holds SQLite's write lock
        except BaseException as exc:  # reported by finish()
            self.error = exc
            self.ready.set()

    def start(self) -> None:
        self.thread.start()
        assert self.ready.wait(WAIT_SECONDS), "the opponent did not start"

    def wait_until_blocked(self, engine: Engine) -> None:
        """Until the opponent waits for a lock the handler holds (PostgreSQL)."""
        query = text("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = :pid AND NOT granted)")
        deadline = time.monotonic() + WAIT_SECONDS
        with engine.connect() as watcher:
            while not watcher.execute(query, {"pid": self.pid}).scalar():
                assert time.monotonic() < deadline, "the opponent never waited for the lock"
                time.sleep(0.005)
                watcher.rollback()

    def finish(self) -> None:
        self.release.set()
        self.thread.join(WAIT_SECONDS)
        assert not self.thread.is_alive(), "the opponent hung"
        assert self.error is None, repr(self.error)


class Contended:
    """A handler-like unit of work (one transaction marking AA and BB with ``+h``) whose
    first ``losses`` runs lose a genuine race against an :class:`Opponent`."""

    def __init__(self, url: str, losses: int) -> None:
        self.engine = make_engine(url)
        self.postgres = self.engine.dialect.name == "postgresql"
        if not self.postgres:

            @event.listens_for(self.engine, "connect")
            def _short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
                # After make_engine's own listener: give up on the write lock quickly.
                dbapi_connection.execute("PRAGMA busy_timeout = 50")

        self.factory = session_factory(self.engine)
        self.losses = losses
        self.runs = 0
        self.opponents: list[Opponent] = []

    def __call__(self) -> str:
        self.runs += 1
        opponent = Opponent(self.engine) if self.runs <= self.losses else None
        if opponent is not None:
            self.opponents.append(opponent)
        try:
            if opponent is not None and not self.postgres:
                opponent.start()  # now holding the write lock
            with transaction(self.factory) as session:
                if self.postgres:
                    # The handler looks for a deadlock soon: it will be the victim.
                    session.execute(text("SET LOCAL deadlock_timeout = '20ms'"))
                _mark(session, "AA", "+h")
                if opponent is not None and self.postgres:
                    opponent.start()
                    opponent.wait_until_blocked(self.engine)
                _mark(session, "BB", "+h")
            return f"saved on run {self.runs}"
        finally:
            if opponent is not None:
                opponent.finish()

    def marks(self) -> tuple[str, str]:
        with self.factory() as session:
            aa = session.scalar(text(MARKS), {"code": "AA"})
            bb = session.scalar(text(MARKS), {"code": "BB"})
            return str(aa), str(bb)

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def contended(db_url: str) -> Iterator[Callable[[int], Contended]]:
    made: list[Contended] = []

    def make(losses: int) -> Contended:
        handler = Contended(db_url, losses)
        if not made:
            _seed(handler.factory)
        made.append(handler)
        return handler

    yield make
    for handler in made:
        handler.close()


def opponent_marks(handler: Contended, wins: int) -> tuple[str, str]:
    """What the rows hold after ``wins`` opponents committed (in that order)."""
    if handler.postgres:
        return "AA" + "+o" * wins, "BB" + "+o" * wins
    return "AA", "BB" + "+o" * wins  # on SQLite the opponent only writes BB


def test_a_unit_that_loses_a_race_runs_again_and_succeeds(
    contended: Callable[[int], Contended],
) -> None:
    handler = contended(1)
    assert retried(handler)() == "saved on run 2"
    assert handler.runs == 2
    # The first run's change was rolled back, the opponent's committed, then the second
    # run's change: each exactly once.
    aa, bb = opponent_marks(handler, 1)
    assert handler.marks() == (aa + "+h", bb + "+h")


def test_a_unit_that_keeps_losing_gives_up_with_busy_and_saves_nothing(
    contended: Callable[[int], Contended], caplog: pytest.LogCaptureFixture
) -> None:
    handler = contended(ATTEMPTS)
    with caplog.at_level(logging.WARNING, logger="workflow.db"), pytest.raises(Busy) as refused:
        retried(handler.__call__)()
    assert handler.runs == ATTEMPTS
    assert refused.value.status == 503
    assert handler.marks() == opponent_marks(handler, ATTEMPTS)
    # The operator's log names the lost race; the refusal keeps the database's error.
    lost = "deadlock detected" if handler.postgres else "database is locked"
    assert isinstance(refused.value.__cause__, OperationalError)
    said = [r.getMessage() for r in caplog.records if r.name == "workflow.db"]
    gave_up = f"Contended.__call__ lost {ATTEMPTS} races in a row and gave up (answered 'busy')"
    assert said == [f"{gave_up}: {lost}"]


def test_an_error_that_is_not_a_lost_race_is_not_retried(
    contended: Callable[[int], Contended],
) -> None:
    handler = contended(0)
    runs = 0

    @retried
    def broken() -> None:
        nonlocal runs
        runs += 1
        with transaction(handler.factory) as session:
            session.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(Exception, match="no_such_table"):
        broken()
    assert runs == 1


# --- through the portal ---------------------------------------------------------------


@contextmanager
def portal_with(settings: Settings, router: APIRouter) -> Iterator[str]:
    """The real portal app, plus ``router``, served by uvicorn on loopback."""
    app = create_app(settings, clock=lambda: datetime(2027, 3, 10, 9, tzinfo=UTC))
    app.include_router(router)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=settings.web.port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, name="portal", daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_SECONDS
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the portal did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{settings.web.port}"
    finally:
        server.should_exit = True
        thread.join(WAIT_SECONDS)


def test_busy_reaches_an_api_client_as_503_json_and_a_reader_as_a_page(
    db_url: str, tmp_path: Path, contended: Callable[[int], Contended]
) -> None:
    port = free_port()
    settings = load_settings({}).with_overrides(
        database={"url": db_url},
        mail={"maildir": str(tmp_path / "mail")},
        web={
            "public_url": f"http://127.0.0.1:{port}",
            "port": port,
            "secret_key": secrets.token_urlsafe(48),
            "demo_data": False,
        },
    )
    handlers: dict[str, Contended] = {}
    router = APIRouter(route_class=RetryingRoute)

    @router.post("/api/v1/contended/{losses}")
    def api_contended(losses: int) -> dict[str, str]:
        return {"result": handlers.setdefault(f"api{losses}", contended(losses))()}

    @router.post("/api/v1/contended-upload")
    def upload_contended(file: UploadFile = File()) -> dict[str, object]:
        data = file.file.read()  # before the unit of work, as the upload handlers do
        result = handlers.setdefault("upload", contended(1))()
        return {"result": result, "size": len(data), "start": data[:5].decode()}

    ran_in: dict[str, str] = {}

    @router.get("/contended/{losses}")
    def page_contended(losses: int) -> dict[str, str]:
        ran_in["plain"] = threading.current_thread().name
        return {"result": handlers.setdefault(f"page{losses}", contended(losses))()}

    @router.get("/contended-in-loop/{losses}")
    @in_loop
    def page_in_loop(losses: int) -> dict[str, str]:
        ran_in["in loop"] = threading.current_thread().name
        return {"result": handlers.setdefault(f"loop{losses}", contended(losses))()}

    with portal_with(settings, router) as url, httpx.Client(base_url=url, timeout=60) as client:
        won = client.post("/api/v1/contended/1")
        assert (won.status_code, won.json()) == (200, {"result": "saved on run 2"})

        refused = client.post(f"/api/v1/contended/{ATTEMPTS}")
        assert refused.status_code == 503
        assert refused.headers["content-type"].startswith("application/json")
        body = refused.json()
        assert body["code"] == "busy"
        assert "nothing was saved" in body["message"]
        assert handlers[f"api{ATTEMPTS}"].runs == ATTEMPTS

        pdf = b"%PDF-1.4\n" + secrets.token_bytes(2000)
        upload = client.post("/api/v1/contended-upload", files={"file": ("form.pdf", pdf)})
        # The second run read the whole file again, not the end the first run left.
        assert upload.json() == {"result": "saved on run 2", "size": len(pdf), "start": "%PDF-"}

        page = client.get(f"/contended/{ATTEMPTS}")
        assert page.status_code == 503
        assert page.headers["content-type"].startswith("text/html")
        assert "nothing was saved" in page.text
        assert "Traceback" not in page.text
        assert handlers[f"page{ATTEMPTS}"].runs == ATTEMPTS

        # On the event loop (the server's own thread), retried as a coroutine.
        won = client.get("/contended-in-loop/1")
        assert (won.status_code, won.json()) == (200, {"result": "saved on run 2"})
        page = client.get(f"/contended-in-loop/{ATTEMPTS}")
        assert page.status_code == 503
        assert "nothing was saved" in page.text
        assert handlers[f"loop{ATTEMPTS}"].runs == ATTEMPTS
        assert ran_in["in loop"] == "portal"
        assert ran_in["plain"] != "portal"
