"""Passwords (Argon2), the signed session cookie, and the CSRF token bound to it.

The cookie (itsdangerous, HttpOnly, SameSite=Lax, Secure when configured) holds a random
CSRF token and, once signed in, the random token of a server-side session
(web/sessions.py): the server decides whether it is still valid, so signing out or a
changed password ends it even if someone kept a copy of the cookie. Anonymous visitors
get a cookie with only the CSRF token, so the sign-in form is protected too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "gnlc_session"
LANGUAGE_COOKIE = "gnlc_lang"
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class SessionData:
    """What the cookie carries: the CSRF token and, when signed in, the session token."""

    csrf: str
    token: str | None = None


class SessionSigner:
    """Signs and reads the session cookie with the configured secret key."""

    def __init__(self, secret_key: str, *, max_age: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="gnlc-session-v2")
        self.max_age = max_age

    def dumps(self, data: SessionData) -> str:
        return self._serializer.dumps({"csrf": data.csrf, "sid": data.token})

    def loads(self, raw: str | None) -> SessionData | None:
        if not raw:
            return None
        try:
            value = self._serializer.loads(raw, max_age=self.max_age)
        except BadSignature:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("csrf"), str):
            return None
        token = value.get("sid")
        return SessionData(csrf=value["csrf"], token=token if isinstance(token, str) else None)


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given), expected)
