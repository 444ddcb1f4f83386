"""Signing in against a real database (SQLite and PostgreSQL): the atomic throttle per
account and per client, the short account pause, the dummy check for unknown emails,
and no transaction open while Argon2 works.

Password checks are counted by passing a counting wrapper of the real Argon2 check as
``verify`` (web/signin.py); the database is never faked.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from argon2 import extract_parameters
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from tests.conftest import ADMIN, World, build_world, utc
from web.accounts import SignInFailed, Throttled
from web.models import LoginAttempt, SignInThrottle
from web.security import hash_password, verify_password
from web.signin import STALE, SignedIn, Transactions, attempt, dummy_hash
from workflow.db import make_engine, session_factory, transaction
from workflow.models import User
from workflow.services import applications as apps
from workflow.services import users
from workflow.states import Role

NOW = utc(2027, 3, 10, 9)
PASSWORD = "Quiet harbour lantern 1987"
REAL = "officer@example.org"


@functools.cache
def real_hash() -> str:
    return hash_password(PASSWORD)


class Counting:
    """The real Argon2 check, counted; ``probe`` runs inside each check."""

    def __init__(self, probe: Callable[[], None] | None = None) -> None:
        self.lock = threading.Lock()
        self.hashes: list[str] = []
        self.probe = probe

    @property
    def calls(self) -> int:
        return len(self.hashes)

    def __call__(self, password_hash: str, password: str) -> bool:
        with self.lock:
            self.hashes.append(password_hash)
        if self.probe is not None:
            self.probe()
        return verify_password(password_hash, password)


@pytest.fixture
def wide_engine(db_url: str) -> Iterator[Engine]:
    """Enough connections for the parallel cases to really run side by side."""
    engine = make_engine(db_url, pool_size=20, max_overflow=0)
    yield engine
    engine.dispose()


@pytest.fixture
def db(wide_engine: Engine) -> sessionmaker[Session]:
    factory = session_factory(wide_engine)
    with transaction(factory) as session:
        users.create_user(
            session,
            ADMIN,
            email=REAL,
            name="Institute officer",
            role=Role.INSTITUTE,
            language="fr",
            password_hash=real_hash(),
            now=NOW,
        )
    return factory


def sign(
    factory: sessionmaker[Session],
    settings: Settings,
    email: str,
    password: str,
    *,
    client: str = "192.0.2.1",
    now: datetime = NOW,
    verify: Callable[[str, str], bool] | None = None,
) -> SignedIn:
    return attempt(
        Transactions(factory),
        settings.signin,
        email,
        password,
        client=client,
        now=now,
        verify=verify or Counting(),
    )


def outcome(*args: Any, **options: Any) -> str:
    """What :func:`sign` with these arguments came to, in one word."""
    try:
        sign(*args, **options)
    except Throttled as exc:
        return "throttled-client" if exc.client else "throttled-account"
    except SignInFailed:
        return "wrong"
    return "signed-in"


def test_the_right_password_signs_in_and_is_recorded(
    db: sessionmaker[Session], settings: Settings
) -> None:
    found = sign(db, settings, "  Officer@Example.ORG ", PASSWORD)
    assert found.password_hash == real_hash() and found.language == "fr"
    user_id, password_hash, language = found  # the shape the callers unpack
    assert (user_id, password_hash, language) == (found.user_id, real_hash(), "fr")
    with db() as session:
        rows = session.scalars(select(LoginAttempt)).all()
        assert [(r.email, r.success) for r in rows] == [(REAL, True)]


def test_fifty_parallel_wrong_passwords_get_exactly_the_configured_checks(
    db: sessionmaker[Session], settings: Settings
) -> None:
    limit = settings.signin.account_max_failures
    counting = Counting()
    start = threading.Barrier(50)

    def one(i: int) -> str:
        start.wait()
        return outcome(db, settings, REAL, f"guess {i}", client=f"198.51.100.{i}", verify=counting)

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(one, range(50)))
    assert counting.calls == limit
    assert results.count("wrong") == limit
    assert results.count("throttled-account") == 50 - limit
    with db() as session:
        assert session.scalar(select(func.count()).select_from(LoginAttempt)) == limit
        row = session.get(SignInThrottle, f"account:{REAL}")
        assert row is not None and (row.failures, row.pending) == (limit, 0)
        assert row.locked_until == NOW + timedelta(seconds=settings.signin.account_lock_seconds)


def test_the_account_pause_is_short_and_the_real_user_then_signs_in(
    db: sessionmaker[Session], settings: Settings
) -> None:
    limit = settings.signin.account_max_failures
    pause = timedelta(seconds=settings.signin.account_lock_seconds)
    counting = Counting()
    for i in range(limit):
        assert outcome(db, settings, REAL, f"guess {i}", verify=counting) == "wrong"
    with pytest.raises(Throttled) as caught:
        sign(db, settings, REAL, PASSWORD, now=NOW + pause - timedelta(seconds=1), verify=counting)
    assert counting.calls == limit  # refused without a check, even the right password
    until = NOW + pause
    assert caught.value.until == until and caught.value.status == 429
    assert str(caught.value) == (
        f"Too many failed sign-ins for this email. Try again after {until:%H:%M:%S} UTC. "
        'If you have forgotten your password, choose a new one with "Forgot your password?" '
        "on the sign-in page."
    )
    # At the end of the pause the real user signs in, and that clears the count:
    found = sign(db, settings, REAL, PASSWORD, now=until, verify=counting)
    assert found.language == "fr" and counting.calls == limit + 1
    later = until + timedelta(seconds=1)
    for i in range(limit):
        assert outcome(db, settings, REAL, f"again {i}", now=later) == "wrong"
    assert outcome(db, settings, REAL, PASSWORD, now=later) == "throttled-account"


def test_failures_older_than_the_window_are_forgotten(
    db: sessionmaker[Session], settings: Settings
) -> None:
    limit = settings.signin.account_max_failures
    for i in range(limit - 1):
        assert outcome(db, settings, REAL, f"guess {i}") == "wrong"
    after = NOW + timedelta(minutes=settings.signin.window_minutes, seconds=1)
    for i in range(limit - 1):  # a new window: as many tries again, none refused
        assert outcome(db, settings, REAL, f"later {i}", now=after) == "wrong"
    assert sign(db, settings, REAL, PASSWORD, now=after).language == "fr"


def test_one_client_address_over_its_limit_waits_longer(
    db: sessionmaker[Session], settings: Settings
) -> None:
    settings = settings.with_overrides(signin={"client_max_failures": 3})
    wait = timedelta(minutes=settings.signin.client_lock_minutes)
    counting = Counting()
    spray = [f"person{i}@example.org" for i in range(3)]  # a different account each time
    for email in spray:
        assert outcome(db, settings, email, "guess", verify=counting) == "wrong"
    with pytest.raises(Throttled) as caught:
        sign(db, settings, REAL, PASSWORD, verify=counting)
    assert caught.value.client and caught.value.until == NOW + wait
    assert "from your network address" in str(caught.value)
    assert counting.calls == 3
    # The account is not held against its owner elsewhere...
    assert sign(db, settings, REAL, PASSWORD, client="203.0.113.9").language == "fr"
    # ...and the address may try again once its wait is over.
    assert outcome(db, settings, REAL, PASSWORD, now=NOW + wait) == "signed-in"


def test_good_sign_ins_from_one_office_do_not_use_up_its_limit(
    db: sessionmaker[Session], settings: Settings
) -> None:
    settings = settings.with_overrides(signin={"client_max_failures": 3})
    for _ in range(6):
        assert outcome(db, settings, REAL, PASSWORD, client="10.1.1.1") == "signed-in"
    with db() as session:
        row = session.get(SignInThrottle, "client:10.1.1.1")
        assert row is not None and (row.failures, row.pending) == (0, 0)


def test_unknown_inactive_and_passwordless_accounts_still_run_argon2(
    db: sessionmaker[Session], settings: Settings
) -> None:
    with transaction(db) as session:
        users.create_user(
            session, ADMIN, email="invited@example.org", name="Invited", role=Role.INSTITUTE,
            now=NOW,
        )  # fmt: skip
        users.create_user(
            session, ADMIN, email="gone@example.org", name="Gone", role=Role.INSTITUTE,
            password_hash=real_hash(), now=NOW,
        )  # fmt: skip
        gone = session.scalars(select(User).where(User.email == "gone@example.org")).one()
        gone.active = False
    counting = Counting()
    for email in ("nobody@example.org", "invited@example.org", "gone@example.org"):
        assert outcome(db, settings, email, PASSWORD, verify=counting) == "wrong"
    assert outcome(db, settings, REAL, "a wrong one", verify=counting) == "wrong"
    # One Argon2 check each; the three without a usable hash against the dummy, which has
    # the parameters of a real hash (so it costs the same time).
    assert counting.hashes == [dummy_hash()] * 3 + [real_hash()]
    assert extract_parameters(dummy_hash()) == extract_parameters(real_hash())


def _write_lock_is_free(db_url: str) -> bool:
    """Whether another connection can take SQLite's write lock right now (no waiting)."""
    path = make_url(db_url).database
    assert path
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


def _open_transactions_pg(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(
            session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                )
            )
            or 0
        )


def test_no_transaction_is_open_while_the_password_is_checked(
    db: sessionmaker[Session], settings: Settings, db_url: str
) -> None:
    seen: list[bool] = []

    def probe() -> None:
        if db_url.startswith("sqlite"):
            seen.append(_write_lock_is_free(db_url))
        else:
            seen.append(_open_transactions_pg(db) == 0)

    counting = Counting(probe)
    sign(db, settings, REAL, PASSWORD, verify=counting)
    assert outcome(db, settings, "nobody@example.org", "x", verify=counting) == "wrong"
    assert seen == [True, True]


def test_a_draft_edit_goes_through_while_eight_threads_sign_in(
    wide_engine: Engine, db: sessionmaker[Session], settings: Settings
) -> None:
    """No sign-in thread is inside a transaction while its Argon2 check runs (tracked by
    the engine's own transaction events), and a city's edits commit meanwhile."""
    open_here = threading.local()

    def begun(conn: Any) -> None:
        open_here.count = getattr(open_here, "count", 0) + 1

    def ended(conn: Any) -> None:
        open_here.count = getattr(open_here, "count", 0) - 1

    event.listen(wide_engine, "begin", begun)
    event.listen(wide_engine, "commit", ended)
    event.listen(wide_engine, "rollback", ended)
    inside: list[int] = []
    counting = Counting(lambda: inside.append(getattr(open_here, "count", 0)))
    world: World = build_world(db, settings)
    draft = world.draft("Jelgava", NOW)
    storm_on = threading.Event()
    edits: list[str] = []

    def edit_drafts() -> None:
        storm_on.wait()
        for k in range(5):
            with transaction(db) as session:
                apps.update_draft(
                    session, settings, world.city("Jelgava"), draft, now=NOW, motivation=f"Edit {k}"
                )
            edits.append(f"Edit {k}")

    def sign_in_twice(i: int) -> None:
        storm_on.set()
        for _ in range(2):
            sign(db, settings, REAL, PASSWORD, client=f"10.0.0.{i}", verify=counting)

    editor = threading.Thread(target=edit_drafts)
    editor.start()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(sign_in_twice, range(8)))
    editor.join()
    assert counting.calls == 16 and inside == [0] * 16
    assert edits == [f"Edit {k}" for k in range(5)]
    with db() as session:
        assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 16
        assert apps.get_application(session, world.city("Jelgava"), draft).motivation == "Edit 4"


def test_a_check_that_breaks_gives_its_turn_back(
    db: sessionmaker[Session], settings: Settings
) -> None:
    def broken(password_hash: str, password: str) -> bool:
        raise RuntimeError("the worker went away")

    with pytest.raises(RuntimeError):
        sign(db, settings, REAL, PASSWORD, verify=broken)
    with db() as session:
        row = session.get(SignInThrottle, f"account:{REAL}")
        assert row is not None and (row.failures, row.pending) == (0, 0)
        assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 0


def test_checks_left_pending_by_a_dead_worker_are_forgotten(
    db: sessionmaker[Session], settings: Settings
) -> None:
    limit = settings.signin.account_max_failures
    with transaction(db) as session:
        session.add(
            SignInThrottle(
                key=f"account:{REAL}",
                failures=0,
                window_started_at=NOW - timedelta(minutes=5),
                pending=limit,  # every turn taken, long ago, and never given back
                pending_at=NOW - STALE,
            )
        )
    assert sign(db, settings, REAL, PASSWORD).language == "fr"
    with db() as session:
        row = session.get(SignInThrottle, f"account:{REAL}")
        assert row is not None and (row.failures, row.pending) == (0, 0)
