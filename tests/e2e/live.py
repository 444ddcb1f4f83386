"""A portal served by uvicorn on 127.0.0.1 in a thread, with demo data and a movable clock.

Shared by the browser tests and the web integration tests (which talk HTTP to it with
httpx): the real server, the real cookies, the real database file.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, load_settings
from web.app import create_app
from web.demo import load_demo
from web.serving import log_config
from workflow.db import make_engine, session_factory


class MovableClock:
    """The portal's clock in tests: set ``moment`` to move time."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@dataclass
class Live:
    url: str
    settings: Settings
    factory: sessionmaker[Session]
    clock: MovableClock
    maildir: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_portal(
    db_url: str, tmp_path: Path, start: datetime, *, web: dict[str, object] | None = None
) -> Iterator[Live]:
    """Demo data loaded at ``start``; the server stops when the block ends. ``web``:
    settings of ``[web]`` other than the defaults."""
    port = free_port()
    maildir = tmp_path / "mail"
    settings = load_settings({}).with_overrides(
        database={"url": db_url},
        mail={"maildir": str(maildir)},
        web={"public_url": f"http://127.0.0.1:{port}", "port": port, **(web or {})},
    )
    engine = make_engine(db_url)
    factory = session_factory(engine)
    clock = MovableClock(start)
    load_demo(factory, settings, start)
    app = create_app(settings, factory, clock=clock)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            log_config=log_config(),  # as `gnlc serve`: no token in the access log
        )
    )
    thread = threading.Thread(target=server.run, name="portal", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the portal did not start within 15 s")
        time.sleep(0.05)
    try:
        yield Live(f"http://127.0.0.1:{port}", settings, factory, clock, maildir)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        engine.dispose()
