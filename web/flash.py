"""Post-Redirect-Get: a refused form goes back to the page it came from, with its input.

A POST handler that refuses answers ``back(request, "/the/page", error=..., values=...)``:
a 303 redirect to that page, and a note for it in the database (``web.models.FlashNote``)
whose random token the browser keeps in a short-lived cookie. The page's GET handler reads
the person's input with :func:`kept`; ``web.templating.render`` shows the refusal in the
page's alert by itself. A note is read once, only by the page it was left for, and only
by the browser that holds its token. Reloading the page after that shows it fresh;
nothing is ever posted twice.

Passwords and the CSRF token are never kept, and the page is stored by its SHA-256 only
(a page's address may hold a secret, as a password-reset link does).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from starlette.requests import Request
from starlette.responses import RedirectResponse

from web.models import FlashNote
from web.portal import portal_of

COOKIE = "gnlc_flash"
#: How long a note waits for its page; an older one is forgotten.
LIFETIME = timedelta(minutes=10)
#: The input kept at most (characters, all fields together); more is not kept.
MAX_KEPT = 400_000
_NEVER_KEPT = ("password", "csrf_token")


@dataclass(frozen=True)
class Note:
    error: str | None = None
    values: dict[str, str] = field(default_factory=dict)


_NONE = Note()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _keepable(values: Mapping[str, object] | None) -> dict[str, str]:
    kept = {
        str(k): v
        for k, v in (values or {}).items()
        if isinstance(v, str) and not any(word in str(k) for word in _NEVER_KEPT)
    }
    if sum(len(k) + len(v) for k, v in kept.items()) > MAX_KEPT:
        return {}
    return kept


def back(
    request: Request,
    target: str,
    *,
    error: str | None = None,
    values: Mapping[str, object] | None = None,
) -> RedirectResponse:
    """Redirect (303) to ``target`` (a path of this site, with or without a query), which
    will show ``error`` and can prefill ``values``."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        target, parts = "/", urlsplit("/")
    portal = portal_of(request)
    now = portal.now()
    token = secrets.token_urlsafe(24)
    payload = json.dumps({"error": error, "values": _keepable(values)})
    with portal.unit() as session:
        session.execute(delete(FlashNote).where(FlashNote.created_at < now - LIFETIME))
        session.add(
            FlashNote(
                token_hash=_hash(token), path=_hash(parts.path), payload=payload, created_at=now
            )
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=portal.secure_cookies,
        path="/",
    )
    return response


def note(request: Request) -> Note:
    """The note left for this page by this browser (read once; cached on the request)."""
    cached = getattr(request.state, "flash_note", None)
    if isinstance(cached, Note):
        return cached
    found = _take(request)
    request.state.flash_note = found
    return found


def _take(request: Request) -> Note:
    token = request.cookies.get(COOKIE)
    if not token or request.method != "GET":
        return _NONE
    portal = portal_of(request)
    with portal.unit() as session:
        row = session.scalars(
            select(FlashNote).where(FlashNote.token_hash == _hash(token))
        ).one_or_none()
        if row is None or row.path != _hash(request.url.path):
            return _NONE
        session.delete(row)
        if row.created_at < portal.now() - LIFETIME:
            return _NONE
        data = json.loads(row.payload)
    error = data.get("error")
    values = data.get("values") or {}
    return Note(
        error=error if isinstance(error, str) else None,
        values={str(k): str(v) for k, v in values.items()},
    )


def kept(request: Request) -> dict[str, str]:
    """The input of the refused form that came back to this page ({} if none)."""
    return dict(note(request).values)


def refusal(request: Request) -> str | None:
    """The refusal left for this page, if any."""
    return note(request).error
