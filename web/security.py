"""Passwords (Argon2), the signed session cookie, and the CSRF token bound to it.

The session is one signed cookie (itsdangerous, HttpOnly, SameSite=Lax, Secure when
configured) holding the user's id, a fingerprint of their password hash (a password
change signs every other session out) and a random CSRF token. Anonymous visitors get a
session with only the CSRF token, so the sign-in form is protected too.
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
SESSION_MAX_AGE = 12 * 3600
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


def fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class SessionData:
    csrf: str
    user_id: int | None = None
    pw: str = ""


class SessionSigner:
    """Signs and reads the session cookie with the configured secret key."""

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="gnlc-session")

    def dumps(self, data: SessionData) -> str:
        return self._serializer.dumps({"csrf": data.csrf, "uid": data.user_id, "pw": data.pw})

    def loads(self, raw: str | None) -> SessionData | None:
        if not raw:
            return None
        try:
            value = self._serializer.loads(raw, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("csrf"), str):
            return None
        uid = value.get("uid")
        return SessionData(
            csrf=value["csrf"],
            user_id=uid if isinstance(uid, int) else None,
            pw=str(value.get("pw") or ""),
        )


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given), expected)
