"""Signing in: an atomic throttle, the password check outside every transaction.

One sign-in runs in four steps, and no transaction is open while Argon2 works:

1. **Reserve** a password check in one short write transaction: one atomic
   ``INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING`` per key of
   :class:`web.models.SignInThrottle`, first ``client:<address>``, then
   ``account:<email>`` (always in that order, so two sign-ins never wait on each other
   in a cycle). A check is reserved only while confirmed failures plus the checks
   under way stay under the limit, so parallel attempts cannot all slip through: of 50
   wrong passwords at once, exactly ``account_max_failures`` are checked. An attempt
   that finds every allowed check under way waits for a turn (reading only), so
   parallel good sign-ins of one account are not refused.
2. **Read** the user in a read-only transaction.
3. **Check** the password with Argon2, outside any transaction. An unknown email, an
   inactive account or one without a password is checked against a dummy hash made
   with the same parameters, so the time taken does not tell which emails have accounts.
4. **Record** the outcome in a short write transaction: a failure counts for the
   client and the account (the one that reaches a limit starts the lock); a success
   clears the account's failures. Every checked attempt is kept as a
   :class:`web.models.LoginAttempt` row for the history.

Limits (``[signin]`` in the configuration): after ``account_max_failures`` failures
within ``window_minutes``, the account's sign-in pauses for ``account_lock_seconds``
(short: it slows a guesser down without locking the real user out for long); after
``client_max_failures`` from one address, that address waits ``client_lock_minutes``.

The client address is the one uvicorn reports (``request.client.host``). Behind a reverse
proxy every request comes from the proxy, so the operator must let uvicorn take the
address from the proxy's headers: uvicorn does so only for connections from the
addresses in ``FORWARDED_ALLOW_IPS`` (its ``--forwarded-allow-ips``; default 127.0.0.1
and ::1). ``X-Forwarded-For`` is never read here, because anyone can send it.
"""

from __future__ import annotations

import os
import random
import secrets
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from sqlalchemy import ColumnElement, and_, case, literal, null, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request

from config.settings import SignInSettings
from web.accounts import SignInFailed, Throttled
from web.models import LoginAttempt, SignInThrottle
from web.portal import portal_of, read_only_factory
from web.security import hash_password, verify_password
from workflow.db import dialect_insert, reading, transaction
from workflow.models import User, UTCDateTime

#: Longest email kept (RFC 5321's limit on a path).
EMAIL_MAX = 254
#: An address longer than this is cut (an IPv6 address with a zone fits easily).
CLIENT_MAX = 100
#: A check reserved longer ago than this is taken as abandoned (its worker died).
STALE = timedelta(minutes=2)
#: How long an attempt waits for a turn while the account's (or client's) allowed
#: checks are all under way, and how often it looks (reading only) meanwhile.
WAIT_SECONDS = 10.0
POLL_SECONDS = 0.05

Verify = Callable[[str, str], bool]


class Units(Protocol):
    """Where the transactions come from: :class:`web.portal.Portal` is one."""

    def unit(self) -> AbstractContextManager[Session]: ...

    def reading(self) -> AbstractContextManager[Session]: ...


class Transactions:
    """:class:`Units` over a session factory, for callers without a portal (the command
    line, tests): write units as the portal's, reads on read-only sessions."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._reader = read_only_factory(factory)

    def unit(self) -> AbstractContextManager[Session]:
        return transaction(self._factory)

    def reading(self) -> AbstractContextManager[Session]:
        return reading(self._reader)


class SignedIn(NamedTuple):
    """The user whose email and password matched."""

    user_id: int
    password_hash: str
    language: str


@dataclass(frozen=True)
class _Account:
    user_id: int | None
    password_hash: str | None
    language: str
    active: bool


#: Password checks running at once in this process. Argon2 takes a core for a good part
#: of a second: a storm of sign-ins then queues here instead of taking every core from
#: the people working (a city saving its draft waits for a core, not for 16 hashes).
_checking = threading.BoundedSemaphore(max(1, (os.cpu_count() or 2) // 2))

_dummy_lock = threading.Lock()
_dummy: list[str] = []


def dummy_hash() -> str:
    """A hash of a random password with the current Argon2 parameters, made on first use
    (not at import: hashing takes a good part of a second)."""
    with _dummy_lock:
        if not _dummy:
            _dummy.append(hash_password(secrets.token_urlsafe(24)))
        return _dummy[0]


def normal_email(email: str) -> str:
    return email.strip().lower()[:EMAIL_MAX]


def account_key(email: str) -> str:
    return f"account:{normal_email(email)}"


def client_key(client: str | None) -> str:
    return f"client:{(client or 'unknown')[:CLIENT_MAX]}"


@dataclass(frozen=True)
class Limit:
    """One key's limit: at most ``max_failures`` within ``window``, then ``lock``."""

    key: str
    max_failures: int
    window: timedelta
    lock: timedelta
    client: bool


def limits(settings: SignInSettings, email: str, client: str | None) -> tuple[Limit, Limit]:
    """The client's limit and the account's, in the order they are reserved."""
    window = timedelta(minutes=settings.window_minutes)
    return (
        Limit(
            client_key(client),
            settings.client_max_failures,
            window,
            timedelta(minutes=settings.client_lock_minutes),
            client=True,
        ),
        Limit(
            account_key(email),
            settings.account_max_failures,
            window,
            timedelta(seconds=settings.account_lock_seconds),
            client=False,
        ),
    )


def _at(moment: datetime) -> ColumnElement[datetime]:
    return literal(moment, UTCDateTime())


def _reserve_one(session: Session, limit: Limit, now: datetime) -> bool:
    """Reserve one password check under ``limit`` in one atomic statement; whether it
    was reserved.

    The row's ``failures`` are confirmed failures in the current window and ``pending``
    the checks under way. A check is reserved only while the key is not locked and
    failures plus pending stay under the limit; the database applies the condition and
    the increment together (``ON CONFLICT DO UPDATE ... WHERE``), so parallel attempts
    cannot all pass it. A window that has passed, or a lock that has run out, starts
    the count again; pending checks older than :data:`STALE` (a crashed worker's) are
    forgotten.
    """
    t = SignInThrottle.__table__
    now_ = _at(now)
    locked = and_(t.c.locked_until.is_not(None), t.c.locked_until > now_)
    fresh = or_(
        t.c.window_started_at <= _at(now - limit.window),
        t.c.locked_until.is_not(None),  # and, as not locked: a lock that has run out
    )
    stale = or_(t.c.pending_at.is_(None), t.c.pending_at <= _at(now - STALE))
    failures = case((fresh, 0), else_=t.c.failures)
    pending = case((stale, 0), else_=t.c.pending)
    statement = (
        dialect_insert(session)(t)
        .values(
            key=limit.key,
            failures=0,
            window_started_at=now,
            locked_until=None,
            pending=1,
            pending_at=now,
        )
        .on_conflict_do_update(
            index_elements=[t.c.key],
            set_={
                "failures": failures,
                "window_started_at": case((fresh, now_), else_=t.c.window_started_at),
                "locked_until": case((fresh, null()), else_=t.c.locked_until),
                "pending": pending + 1,
                "pending_at": now_,
            },
            where=and_(~locked, failures + pending < limit.max_failures),
        )
        .returning(t.c.pending)
    )
    return session.execute(statement).first() is not None


def _refusal(row: SignInThrottle | None, limit: Limit, now: datetime) -> Throttled | None:
    """Why ``limit`` refused: a lock (the refusal to give), or ``None`` when its checks
    are only all in progress (wait for them)."""
    if row is None:
        return None
    if row.locked_until is not None and row.locked_until > now:
        return Throttled(row.locked_until, client=limit.client)
    fresh = row.window_started_at <= now - limit.window or row.locked_until is not None
    if not fresh and row.failures >= limit.max_failures:  # the limit was lowered meanwhile
        return Throttled(row.window_started_at + limit.window, client=limit.client)
    return None


class _Full(Exception):
    """Every check allowed is under way; raised to roll back the reservation."""

    def __init__(self, refusal: Throttled | None) -> None:
        super().__init__()
        self.refusal = refusal


def reserve(
    session: Session, settings: SignInSettings, email: str, client: str | None, now: datetime
) -> None:
    """Reserve a password check for the client and then for the account, or raise
    :class:`_Full`; the caller rolls the transaction back then, so a refused attempt
    reserves nothing."""
    for limit in limits(settings, email, client):
        if not _reserve_one(session, limit, now):
            row = session.get(SignInThrottle, limit.key, populate_existing=True)
            raise _Full(_refusal(row, limit, now))


def _peek(
    units: Units, settings: SignInSettings, email: str, client: str | None, now: datetime
) -> Throttled | bool:
    """Without writing: a lock to refuse with, ``True`` when a check may be free now,
    ``False`` when all are still under way."""
    with units.reading() as session:
        for limit in limits(settings, email, client):
            row = session.get(SignInThrottle, limit.key)
            refusal = _refusal(row, limit, now)
            if refusal is not None:
                return refusal
            if row is not None and not (row.pending_at is None or row.pending_at <= now - STALE):
                fresh = row.window_started_at <= now - limit.window or row.locked_until is not None
                used = (0 if fresh else row.failures) + row.pending
                if used >= limit.max_failures:
                    return False
    return True


def _wait_for_a_check(
    units: Units, settings: SignInSettings, email: str, client: str | None, now: datetime
) -> None:
    """Reserve a check, waiting (reading only) while all allowed are under way: parallel
    sign-ins of one account wait for a turn instead of being refused. Raises
    :class:`Throttled` on a lock, or when no turn came within :data:`WAIT_SECONDS`."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            with units.unit() as session:
                reserve(session, settings, email, client, now)
            return
        except _Full as full:
            if full.refusal is not None:
                raise full.refusal from None
        while True:
            if time.monotonic() > deadline:
                raise Throttled(now + timedelta(seconds=WAIT_SECONDS))
            time.sleep(POLL_SECONDS * (0.5 + random.random()))
            seen = _peek(units, settings, email, client, now)
            if isinstance(seen, Throttled):
                raise seen
            if seen:
                break


def record(
    session: Session,
    settings: SignInSettings,
    email: str,
    client: str | None,
    ok: bool | None,
    now: datetime,
) -> None:
    """The check is over: release its reservations and keep the attempt. A failure
    counts for the client and the account, and the one that reaches a limit starts its
    lock; a success clears the account's failures and lock (the client's stay).
    ``ok=None``: the check did not finish (an error); only release the reservations."""
    if ok is not None:
        session.add(LoginAttempt(email=normal_email(email), at=now, success=ok))
    row = SignInThrottle
    released = case((row.pending > 0, row.pending - 1), else_=0)
    for limit in limits(settings, email, client):
        changes: dict[str, Any] = {"pending": released}
        if ok is False:
            changes["failures"] = row.failures + 1
            changes["locked_until"] = case(
                (row.failures + 1 >= limit.max_failures, _at(now + limit.lock)),
                else_=row.locked_until,
            )
        elif ok and not limit.client:
            changes.update(failures=0, locked_until=None)
        session.execute(update(row).where(row.key == limit.key).values(**changes))
    session.flush()


def _account(session: Session, email: str) -> _Account:
    row = session.execute(
        select(User.id, User.password_hash, User.language, User.active).where(
            User.email == normal_email(email)
        )
    ).first()
    if row is None:
        return _Account(None, None, "", False)
    return _Account(row.id, row.password_hash, row.language, bool(row.active))


def attempt(
    units: Units,
    settings: SignInSettings,
    email: str,
    password: str,
    *,
    client: str | None,
    now: datetime,
    verify: Verify = verify_password,
) -> SignedIn:
    """Sign in with ``email`` and ``password`` from address ``client``.

    Raises :class:`web.accounts.Throttled` (without checking the password) when the
    account or the client is locked, :class:`web.accounts.SignInFailed` when the email
    and password do not match an active account. ``verify`` is Argon2's check; tests
    pass a counting wrapper.
    """
    _wait_for_a_check(units, settings, email, client, now)
    try:
        with units.reading() as session:
            account = _account(session, email)
        usable = account.active and bool(account.password_hash)
        stored = account.password_hash if usable and account.password_hash else dummy_hash()
        with _checking:
            ok = verify(stored, password) and usable
    except BaseException:
        with units.unit() as session:
            record(session, settings, email, client, None, now)
        raise
    with units.unit() as session:
        record(session, settings, email, client, ok, now)
    if not ok or account.user_id is None or account.password_hash is None:
        raise SignInFailed()
    return SignedIn(account.user_id, account.password_hash, account.language)


def client_address(request: Request) -> str | None:
    """The peer's address as uvicorn reports it (see the module's note on proxies)."""
    return request.client.host if request.client else None


def sign_in(request: Request, email: str, password: str) -> SignedIn:
    """:func:`attempt` for a portal or API request."""
    portal = portal_of(request)
    return attempt(
        portal,
        portal.settings.signin,
        email,
        password,
        client=client_address(request),
        now=portal.now(),
    )
