"""Engines and sessions for SQLite (embedded default) and PostgreSQL, and migrations.

SQLite runs in WAL mode with ``synchronous=FULL`` and takes the write lock when a
transaction begins (``BEGIN IMMEDIATE``), so two writers queue instead of failing
half-way; PostgreSQL uses row locks and the optimistic version columns.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, Text, cast, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from workflow.errors import Busy, Unavailable

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# Execution option of engines whose transactions only read: on SQLite they begin with a
# plain (deferred) BEGIN instead of BEGIN IMMEDIATE.
READ_ONLY = "gnlc_read_only"
# A PostgreSQL connection that waited in the pool this many seconds is tested before it is
# handed out (see _ping_after_idle).
PING_AFTER_IDLE = 1.0
_IDLE_SINCE = "gnlc_idle_since"
log = logging.getLogger(__name__)


def _ping_after_idle(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping`` for the connections that need it: one that waited in
    the pool at least :data:`PING_AFTER_IDLE` seconds is tested with a round trip before
    it is handed out, and replaced when the server has dropped it (a restart, an idle
    timeout). One used again at once is not: the ping doubled the round trips of a page
    sent from the page cache (the session lookup is its only statement), and a server
    that went away and came back within a second is one that no ping would have found
    in time either. A request in flight while the server goes away fails either way, and
    the pool then replaces every connection opened before it."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)  # none yet: opened just now
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and hands out a fresh one.
            raise DisconnectionError("the server dropped an idle connection") from exc


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``; a SQLite file's folder is created when missing."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, **options)
        if "pool_pre_ping" not in options:
            _ping_after_idle(engine)
        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    options.setdefault("connect_args", {}).setdefault("timeout", 30)
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "commit")
    def _on_commit(connection: Any) -> None:
        # What this connection committed itself, which its data_version does not count
        # (see stamp_column).
        connection.info[_OWN_COMMITS] = connection.info.get(_OWN_COMMITS, 0) + 1

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A unit marked read-only (see READ_ONLY) reads a WAL snapshot without the write
        # lock, so page views do not queue behind each other or behind writers.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def dialect_insert(session: Session) -> Any:
    """The ``insert`` of the session's database, the one with ``on_conflict_do_nothing``
    (SQLite and PostgreSQL spell ``INSERT ... ON CONFLICT DO NOTHING`` alike)."""
    return dialect_insert_for(session.get_bind().dialect.name)


def dialect_insert_for(dialect: str) -> Any:
    """:func:`dialect_insert` of the database named ``dialect``."""
    # Imported here: a command that never inserts so need not load both dialects.
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit that only reads, on a session of ``web.portal.read_only_factory``.

    On SQLite it ends with a ROLLBACK, as closing a session does. On PostgreSQL, whose
    READ ONLY transaction cannot have written anything, it ends with a COMMIT, to the
    same effect: psycopg forgets the connection's prepared statements at every ROLLBACK
    (and deallocates them on the server), so page views that rolled back planned every
    statement again; after a COMMIT, a statement run often on a connection stays
    prepared there and its plan is kept. A change left pending in the session is
    discarded first, as the ROLLBACK discarded it. On an error, the unit rolls back.
    """
    with factory() as session:
        yield session
        if session.in_transaction() and session.get_bind().dialect.name == "postgresql":
            session.expunge_all()
            session.commit()


_OWN_COMMITS = "gnlc_own_commits"
_SEEN = "gnlc_seen_version"
_changes_lock = threading.Lock()
_changes = 0


def stamp_column(dialect: str) -> ColumnElement[Any]:
    """A column that adds the data stamp to a SELECT, read in that statement's snapshot;
    :func:`stamp_of` turns its value into the stamp.

    The stamp stands for everything committed to the database as of the statement: the
    same stamp later means that no transaction wrote anything since. It costs a column,
    not a statement, and never writes, so page views stay side by side. It may change
    when nothing did (another database of the same PostgreSQL server wrote, a pooled
    connection is new); it never stays the same across a commit that wrote, whoever
    committed it: a page, the API, the command line, the scheduler, the dispatcher, a
    restore or SQL typed by hand. ``web.page_cache`` relies on that. Read it no later
    than the data it stands for: on PostgreSQL each statement may see newer data than
    the one before it.

    - PostgreSQL: the snapshot (``pg_current_snapshot()``): the newest transaction that
      ended and those still running. Two equal snapshots see exactly the same rows, and
      every transaction that writes has an id that moves it.
    - SQLite: ``data_version`` changes on a connection when any other connection (of any
      process) commits; this connection's own commits are counted by the engine's
      ``commit`` event. A change either way, seen by whichever connection sees it first,
      moves one counter of this process.
    """
    if dialect == "postgresql":
        return cast(func.pg_current_snapshot(), Text).label("data_stamp")
    pragma = func.pragma_data_version().table_valued("data_version")
    return select(pragma.c.data_version).scalar_subquery().label("data_stamp")


def stamp_of(connection: Connection, value: object) -> str:
    """The data stamp from :func:`stamp_column`'s ``value``, read on ``connection``."""
    if connection.dialect.name == "postgresql":
        return str(value)
    global _changes
    seen = (value, connection.info.get(_OWN_COMMITS, 0))
    with _changes_lock:
        if connection.info.get(_SEEN) != seen:
            connection.info[_SEEN] = seen
            _changes += 1
        return f"sqlite:{_changes}"


P = ParamSpec("P")
R = TypeVar("R")

#: PostgreSQL's serialization_failure and deadlock_detected: the transaction lost a race
#: with another one and may simply run again.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
#: How many times a unit of work runs at most before :class:`Busy`.
ATTEMPTS = 6


#: PostgreSQL's states for a server going away or not ready: shut down by an operator,
#: crashed, starting up.
UNREACHABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def is_retryable(exc: BaseException) -> bool:
    """A database error that running the same unit of work again may get past."""
    if not isinstance(exc, DBAPIError):
        return False
    if getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    if lost_connection(exc):
        return True
    # SQLite past its busy timeout.
    return "database is locked" in str(exc.orig)


def lost_connection(exc: BaseException) -> bool:
    """A statement failed because the server had dropped its connection (a restart, an
    operator's ``pg_terminate_backend``): its transaction ended with the connection,
    uncommitted, and the pool replaces every connection opened before. A failed COMMIT
    is not one of these (SQLAlchemy names no statement for it): whether it reached the
    server is unknown, so it is never simply run again."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated and exc.statement is not None


def unreachable(exc: BaseException) -> bool:
    """The database server cannot be reached now: a connection dropped under a
    statement or a COMMIT, or none could be opened (nothing listens, or the server is
    starting or shutting down). Not a fault in the settings: a SQLite file that cannot
    be opened, or a refused password, is left to ``workflow.faults``."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None)
    if state in UNREACHABLE_SQLSTATES or (state or "").startswith("08"):
        return True
    # psycopg could not open a connection at all: no server at the address, or one not
    # taking connections yet (libpq reports no state then).
    if isinstance(exc, OperationalError) and type(exc.orig).__module__.startswith("psycopg"):
        said = str(exc.orig)
        return state is None and not any(word in said for word in _SETTINGS_FAULTS)
    return False


#: What psycopg says when the address answers but refuses these settings (a password,
#: a role, a database name): a fault for the operator, not an outage.
_SETTINGS_FAULTS = ("password", "authentication", "does not exist", "role ")


def _give_up(state: RetryCallState) -> NoReturn:
    # The reader is told to try again; the operator learns which race kept being lost,
    # or that the database kept going away.
    last = state.outcome.exception() if state.outcome is not None else None
    said = str(getattr(last, "orig", last) or "").strip().splitlines()
    gone = last is not None and unreachable(last)
    what = "lost its database connection %d times" if gone else "lost %d races"
    log.warning(
        f"%s {what} in a row and gave up (answered %r): %s",
        getattr(state.fn, "__qualname__", "a unit of work"),
        state.attempt_number,
        Unavailable.code if gone else Busy.code,
        said[0] if said else "no detail",
    )
    if gone:
        raise Unavailable() from last
    raise Busy() from last


def retried(work: Callable[P, R]) -> Callable[P, R]:
    """``work`` (a request handler, a command) run again when the database says it lost
    a race: a deadlock or serialization failure on PostgreSQL, a lock timeout on SQLite;
    or when a statement found its connection dropped by the server (:func:`lost_connection`:
    a restart), which the next run makes again.

    Each run's transactions roll back on the error, so running again is safe for work
    that only changes the database. After :data:`ATTEMPTS` lost races, :class:`Busy`, and
    after as many dropped connections, :class:`Unavailable`: a clear 503 for the portal
    and one line for the command line, never a traceback.
    """
    wrapped: Callable[P, R] = retry(
        retry=retry_if_exception(is_retryable),
        stop=stop_after_attempt(ATTEMPTS),
        wait=wait_random_exponential(multiplier=0.01, max=0.3),
        retry_error_callback=_give_up,
    )(work)
    return wrapped


def alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def is_current(url: str, engine: Engine | None = None) -> bool:
    """True when the database at ``url`` is at the newest migration (:func:`migration_heads`);
    ``engine``: one already made for ``url``, to ask through (else one is made and closed)."""
    if engine is not None:
        return _stamped(engine) == migration_heads()
    own = create_engine(url)
    try:
        return _stamped(own) == migration_heads()
    finally:
        own.dispose()


_REVISION = re.compile(r"^(down_)?revision(?:: [^=]+)? = (?:\"([^\"]*)\"|'([^']*)'|None)", re.M)


def migration_heads() -> set[str]:
    """The newest revisions of ``migrations/versions``, read from the files' own
    ``revision``/``down_revision`` lines without importing Alembic (which takes longer
    than a read command is allowed). ``tests/integration/test_migrations.py`` checks it
    against Alembic's own answer."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for down, double, single in _REVISION.findall(path.read_text(encoding="utf-8")):
            value = double or single
            if value:
                (parents if down else revisions).add(value)
    return revisions - parents


def _stamped(engine: Engine) -> set[str] | None:
    """The revisions the database says it is at; None when it has no version table."""
    from sqlalchemy import text

    with engine.connect() as connection:
        # Asked of the catalogue directly: SQLAlchemy's inspector costs a read command
        # more time than the question does.
        if connection.dialect.name == "sqlite":
            table = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        else:
            table = "SELECT 1 WHERE to_regclass('alembic_version') IS NOT NULL"
        if connection.execute(text(table)).first() is None:
            return None
        return {
            row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))
        }


def ensure_schema(url: str, engine: Engine | None = None) -> None:
    """Create or upgrade the schema when it is not current (the CLI's first use);
    ``engine``: the one the caller made for ``url``, asked instead of a new one."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    if not is_current(url, engine):
        upgrade(url)  # Alembic decides, and says what is wrong if it can't


def upgrade(url: str, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision`` with Alembic."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    from alembic import command

    command.upgrade(alembic_config(url), revision)
