"""What every request handler shares: settings, the database, the clock, the templates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request

from config import Settings
from web.security import SessionSigner
from workflow.db import READ_ONLY, reading, transaction
from workflow.services import calls

Clock = Callable[[], datetime]


def real_clock() -> datetime:
    return datetime.now(UTC)


def read_only_factory(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions on the same pool whose transactions only read.

    On SQLite they begin without the write lock (see ``workflow.db.READ_ONLY``), so
    page views run side by side; PostgreSQL runs them as READ ONLY transactions, so a
    write slipping into a page view fails loudly instead of committing.
    """
    engine: Engine = factory.kw["bind"]
    options: dict[str, object] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    return sessionmaker(engine.execution_options(**options), expire_on_commit=False)


def single_statement_factory(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions for one read of one statement: on PostgreSQL without a transaction around
    it (AUTOCOMMIT: the statement is its own transaction), which saves the round trips
    of a BEGIN and a COMMIT at every request; on SQLite, :func:`read_only_factory`'s."""
    engine: Engine = factory.kw["bind"]
    if engine.dialect.name != "postgresql":
        return read_only_factory(factory)
    return sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))


@dataclass
class Portal:
    settings: Settings
    factory: sessionmaker[Session]
    clock: Clock
    signer: SessionSigner
    templates: Environment
    uploads: Path
    secure_cookies: bool
    reader: sessionmaker[Session]
    #: One statement's read (:func:`single_statement_factory`): the session lookup.
    single: sessionmaker[Session]

    def now(self) -> datetime:
        return self.clock()

    @contextmanager
    def unit(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any error."""
        with transaction(self.factory) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """One read-only transaction, for page views (``workflow.db.reading``)."""
        with reading(self.reader) as session:
            yield session

    @contextmanager
    def looking_up(self) -> Iterator[Session]:
        """A read of one statement (the session lookup): on PostgreSQL outside any
        transaction. Only reads are done with it."""
        with reading(self.single) as session:
            yield session

    def calls_ready(self) -> None:
        """Before a page view that shows calls: the annual calls its years need exist
        (written once, the first time; every later view only reads)."""
        now = self.now()
        with self.reading() as session:
            missing = calls.to_generate(session, self.settings, now)
        if missing:
            with self.unit() as session:
                calls.ensure_shown(session, self.settings, now)


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal
