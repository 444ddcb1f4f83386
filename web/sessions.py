"""Sign-ins the server can end (browser sessions and API tokens), and the secret key.

A sign-in is a row of ``user_sessions`` (web/models.py ``UserSession``) holding only the
SHA-256 of a random token; the browser keeps the token in its signed cookie, an API
client sends it as ``Authorization: Bearer``. A token is valid while its row is not
revoked, has been used within the idle lifetime and is before ``expires_at``, and while
its user is active and has a password. Lifetimes come from ``[sessions]``:

- browser: idle ``idle_minutes``, at most ``absolute_hours`` after signing in;
- API token: ``api_token_days`` after it was made (idle limit the same).

Looking a token up only reads (page views run in read-only transactions);
``last_seen_at`` is written by :func:`touch`, in its own short transaction, only when it
is older than :func:`touch_interval`.

The secret key (``[web] secret_key``) signs the cookie, which carries the CSRF token.
:func:`resolve_secret_key` is the one place that decides which key the portal uses.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy import Select, Table, bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, SettingsError
from config.paths import demo_key_file
from web.security import hash_token
from workflow.db import stamp_column, stamp_of, transaction
from workflow.models import User, UserSession
from workflow.services.users import revoke_sessions

BROWSER = "browser"
API = "api"
KINDS = (BROWSER, API)
#: API tokens start with this, so a leaked one is easy to recognise (and to search for).
API_PREFIX = "gnlc_"
#: A looked-up token longer than this is not ours (never hashed, never queried).
MAX_TOKEN_LENGTH = 200
#: ``last_seen_at`` is written at most this often per session.
TOUCH_EVERY = timedelta(minutes=5)

PLACEHOLDER_KEY = "change-me-in-production-this-is-only-for-the-demo"
MIN_KEY_LENGTH = 32
KEY_FILE = "secret_key"

log = logging.getLogger(__name__)


# --- lifetimes ---------------------------------------------------------------------------


def idle_limit(settings: Settings, kind: str) -> timedelta:
    if kind == API:
        return timedelta(days=settings.sessions.api_token_days)
    return timedelta(minutes=settings.sessions.idle_minutes)


def absolute_limit(settings: Settings, kind: str) -> timedelta:
    if kind == API:
        return timedelta(days=settings.sessions.api_token_days)
    return timedelta(hours=settings.sessions.absolute_hours)


def touch_interval(settings: Settings, kind: str) -> timedelta:
    """How stale ``last_seen_at`` may get: a few minutes, well inside the idle limit."""
    return min(TOUCH_EVERY, idle_limit(settings, kind) / 10)


def cookie_max_age(settings: Settings) -> int:
    """Seconds the browser keeps the cookie: the absolute lifetime of a browser session."""
    return int(absolute_limit(settings, BROWSER).total_seconds())


# --- sessions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    id: int
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class Account:
    """Who a session signs in, as every request reads it (one narrow row, no ORM)."""

    id: int
    name: str
    email: str
    role: str
    city_id: int | None
    country_code: str | None
    language: str


@dataclass(frozen=True)
class Valid:
    """A token that authenticates, with its user (read in the same transaction)."""

    session_id: int
    kind: str
    user: Account
    stale: bool
    #: ``workflow.db.stamp_of`` as of the lookup (when asked for).
    stamp: str | None = None


class _Lasting(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def revoked_at(self) -> datetime | None: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def last_seen_at(self) -> datetime: ...


_SESSIONS, _USERS = cast(Table, UserSession.__table__), cast(Table, User.__table__)
#: Every request reads its session and user with this one statement.
_LOOK_UP = (
    select(
        _SESSIONS.c.id, _SESSIONS.c.kind, _SESSIONS.c.revoked_at, _SESSIONS.c.expires_at,
        _SESSIONS.c.last_seen_at, _USERS.c.id.label("user_id"), _USERS.c.name,
        _USERS.c.email, _USERS.c.role, _USERS.c.city_id, _USERS.c.country_code,
        _USERS.c.language, _USERS.c.active, _USERS.c.password_hash,
    )
    .join(_USERS, _USERS.c.id == _SESSIONS.c.user_id)
    .where(_SESSIONS.c.token_hash == bindparam("token_hash"))
)  # fmt: skip


def start(
    session: Session,
    settings: Settings,
    user_id: int,
    kind: str,
    *,
    now: datetime,
    label: str = "",
    client: str = "",
) -> Started:
    """A new session of ``kind`` for ``user_id``; the raw token is returned only here."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    token = (API_PREFIX if kind == API else "") + secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=hash_token(token),
        user_id=user_id,
        kind=kind,
        label=label.strip()[:100],
        client=client[:64],
        created_at=now,
        last_seen_at=now,
        expires_at=now + absolute_limit(settings, kind),
    )
    session.add(row)
    session.flush()
    return Started(row.id, token, row.expires_at)


def is_open(row: _Lasting, settings: Settings, now: datetime) -> bool:
    return (
        row.revoked_at is None
        and now < row.expires_at
        and now - row.last_seen_at < idle_limit(settings, row.kind)
    )


_STAMPED: dict[str, Select[Any]] = {}


def _stamped(dialect: str) -> Select[Any]:
    """:data:`_LOOK_UP` with the data stamp (``workflow.db.stamp_column``), once per dialect."""
    found = _STAMPED.get(dialect)
    if found is None:
        found = _STAMPED[dialect] = _LOOK_UP.add_columns(stamp_column(dialect))
    return found


def look_up(
    session: Session,
    settings: Settings,
    token: str | None,
    kind: str,
    *,
    now: datetime,
    stamp: bool = False,
) -> Valid | None:
    """The session ``token`` opens, or ``None`` (unknown, other kind, revoked, idle,
    expired, or its user inactive or without a password). Only reads. ``stamp``: with
    the data stamp read by the same statement (``Valid.stamp``)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    connection = session.connection()
    statement = _stamped(connection.dialect.name) if stamp else _LOOK_UP
    row = connection.execute(statement, {"token_hash": hash_token(token)}).first()
    if row is None:
        return None
    if row.kind != kind or not is_open(row, settings, now):
        return None
    if not row.active or not row.password_hash:
        return None
    stale = now - row.last_seen_at >= touch_interval(settings, kind)
    user = Account(row.user_id, row.name, row.email, row.role, row.city_id, row.country_code,
                   row.language)  # fmt: skip
    stamped = stamp_of(connection, row.data_stamp) if stamp else None
    return Valid(row.id, row.kind, user, stale, stamped)


def touch(factory: sessionmaker[Session], session_id: int, *, now: datetime) -> None:
    """Note that the session was used, in a short transaction of its own. A failure
    (the database busy) only delays the note: the request goes on."""
    try:
        with transaction(factory) as session:
            session.execute(
                update(UserSession)
                .where(
                    UserSession.id == session_id,
                    UserSession.revoked_at.is_(None),
                    UserSession.last_seen_at < now,
                )
                .values(last_seen_at=now)
            )
    except SQLAlchemyError as exc:
        log.warning("session %s: last use not recorded (%s)", session_id, type(exc).__name__)


def revoke(session: Session, token: str | None, *, now: datetime) -> bool:
    """End the session of ``token`` (signing out); ``False`` when it was not open."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return False
    result = session.execute(
        update(UserSession)
        .where(UserSession.token_hash == hash_token(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


def revoke_id(session: Session, session_id: int, *, now: datetime) -> bool:
    """End the session numbered ``session_id``; ``False`` when it was not open."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


def revoke_token(
    session: Session, settings: Settings, user_id: int, token_id: int, *, now: datetime
) -> bool:
    """End one open API token of ``user_id``; ``False`` when there is none by that id
    (someone else's counts as none)."""
    row = session.get(UserSession, token_id)
    if row is None or row.user_id != user_id or row.kind != API:
        return False
    if not is_open(row, settings, now):
        return False
    row.revoked_at = now
    session.flush()
    return True


def revoke_all(session: Session, user_id: int, *, now: datetime) -> int:
    """End every session and API token of ``user_id`` (the domain's own function)."""
    return revoke_sessions(session, user_id, now=now)


def api_tokens(
    session: Session, settings: Settings, user_id: int, *, now: datetime
) -> list[UserSession]:
    """The user's API tokens that still work, newest first."""
    rows = session.scalars(
        select(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.kind == API,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
        )
        .order_by(UserSession.created_at.desc(), UserSession.id.desc())
    )
    return [row for row in rows if is_open(row, settings, now)]


# --- the secret key ----------------------------------------------------------------------


class SecretKeyError(SettingsError):
    """The portal cannot start with this secret key; the message says what to do."""


def new_secret_key() -> str:
    """A fresh random key (64 URL-safe characters)."""
    return secrets.token_urlsafe(48)


def key_problem(key: str) -> str | None:
    """What is wrong with ``key`` as a secret key, or ``None`` when it will do."""
    if not key.strip():
        return "is empty"
    if key == PLACEHOLDER_KEY:
        return "is the placeholder shipped with the demo"
    if len(key) < MIN_KEY_LENGTH:
        return f"is too short ({len(key)} characters; use at least {MIN_KEY_LENGTH})"
    return None


def _refusal(problem: str) -> SecretKeyError:
    return SecretKeyError(
        f"[web] secret_key {problem}: set GNLC_WEB__SECRET_KEY (or secret_key under [web] "
        "in your settings file) to the key that `gnlc secret` prints, then start again."
    )


def resolve_secret_key(settings: Settings) -> str:
    """The key that signs the cookies. A usable configured key wins. In demo mode with
    no key (or the old placeholder), the demo's own random key, made once and kept in
    :func:`demo_key_file`. Otherwise :class:`SecretKeyError`, one line naming the key."""
    key = settings.web.secret_key.get_secret_value()
    problem = key_problem(key)
    if problem is None:
        return key
    if settings.web.demo_data and (not key.strip() or key == PLACEHOLDER_KEY):
        return _demo_key(demo_key_file(settings))
    raise _refusal(problem)


def _read_key(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise SecretKeyError(
            f"The demo's secret key file {path} cannot be read ({exc.strerror}): make it "
            "readable, or set [web] secret_key (GNLC_WEB__SECRET_KEY) to the key that "
            "`gnlc secret` prints."
        ) from None
    return text if key_problem(text) is None else None


def _demo_key(path: Path) -> str:
    existing = _read_key(path)
    if existing is not None:
        return existing
    key = new_secret_key()
    partial = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
        try:
            # Atomic and never over another process's key: the first one made wins.
            os.link(partial, path)
        except FileExistsError:
            other = _read_key(path)
            if other is not None:
                return other
            os.replace(partial, path)  # an unusable file: this key takes its place
    except OSError as exc:
        raise SecretKeyError(
            f"The demo's secret key cannot be written to {path} ({exc.strerror}): make "
            f"{path.parent} writable, or set [web] secret_key (GNLC_WEB__SECRET_KEY) to the "
            "key that `gnlc secret` prints."
        ) from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    return key
