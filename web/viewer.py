"""Who is looking: the session cookie, the signed-in user, their language, CSRF checks."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime

from fastapi import Request
from sqlalchemy.exc import DBAPIError
from starlette.datastructures import FormData
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web import flash, sessions
from web.i18n import pick_language
from web.portal import Portal, portal_of
from web.security import LANGUAGE_COOKIE, SESSION_COOKIE, SessionData, same_token
from workflow.actors import Actor
from workflow.db import lost_connection
from workflow.errors import WorkflowError
from workflow.services.users import actor_for
from workflow.states import Role


class SignInRequired(Exception):
    """No signed-in user: pages redirect to the sign-in page, the API answers 401."""


class CsrfRejected(WorkflowError):
    code = "csrf"
    status = 403

    def __init__(self) -> None:
        super().__init__(
            "The form was out of date or came from another site. Reload the page and try again."
        )


@dataclass(frozen=True)
class Viewer:
    """The person behind a request (``user_id`` None when nobody is signed in)."""

    csrf: str
    lang: str
    user_id: int | None = None
    name: str = ""
    email: str = ""
    role: str = ""
    city_id: int | None = None
    country_code: str | None = None
    actor: Actor | None = None
    #: The server-side session (browser or API token) this request came with.
    session_id: int | None = None

    @property
    def signed_in(self) -> bool:
        return self.actor is not None

    def is_(self, *roles: Role) -> bool:
        return self.actor is not None and self.actor.role in roles


def new_session() -> SessionData:
    return SessionData(csrf=secrets.token_urlsafe(24))


class SessionCookie:
    """Read the signed session (or start one) and write it back when it changed.

    Plain ASGI (not ``BaseHTTPMiddleware``): every request passes here, and the
    generic middleware's task group and body stream cost more than the work itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        portal = portal_of(request)
        data = portal.signer.loads(request.cookies.get(SESSION_COOKIE))
        request.state.session = data or new_session()
        request.state.session_changed = data is None

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and request.state.session_changed:
                cookie = Response()
                write_session(request, cookie, request.state.session)
                message["headers"] = [*message.get("headers", []), *cookie.raw_headers[-1:]]
            await send(message)

        await self.app(scope, receive, sending)


def write_session(request: Request, response: Response, data: SessionData) -> None:
    portal = portal_of(request)
    response.set_cookie(
        SESSION_COOKIE,
        portal.signer.dumps(data),
        max_age=portal.signer.max_age,
        httponly=True,
        samesite="lax",
        secure=portal.secure_cookies,
        path="/",
    )


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


def start_session(request: Request, user_id: int) -> None:
    """Sign in: a new server-side session and a new CSRF token, so an old form cannot be
    replayed. The session this browser had before (if any) ends."""
    portal = portal_of(request)
    now = portal.now()
    with portal.unit() as session:
        sessions.revoke(session, request.state.session.token, now=now)
        started = sessions.start(
            session, portal.settings, user_id, sessions.BROWSER, now=now, client=client_of(request)
        )
    request.state.session = SessionData(csrf=secrets.token_urlsafe(24), token=started.token)
    request.state.session_changed = True
    request.state.viewer = None


def end_session(request: Request) -> None:
    """Sign out: the server ends the session, so a kept copy of the cookie opens nothing."""
    portal = portal_of(request)
    with portal.unit() as session:
        sessions.revoke(session, request.state.session.token, now=portal.now())
    request.state.session = new_session()
    request.state.session_changed = True
    request.state.viewer = None


def set_language_cookie(request: Request, response: Response, lang: str) -> None:
    response.set_cookie(
        LANGUAGE_COOKIE,
        lang,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=portal_of(request).secure_cookies,
    )


def load_viewer(
    request: Request,
    token: str | None = None,
    kind: str = sessions.BROWSER,
    *,
    stamp: bool = False,
) -> Viewer:
    """Whoever ``token`` (by default the cookie's session) signs in, or an anonymous viewer.

    ``stamp``: for a signed-in viewer, also read the data stamp (``workflow.db.stamp_column``)
    with the session, into ``request.state.data_stamp`` (for ``web.page_cache``)."""
    data: SessionData = request.state.session
    portal = portal_of(request)
    viewer = anonymous(request)
    if token is None and kind == sessions.BROWSER:
        token = data.token
    if token is None:
        return viewer
    now = portal.now()
    try:
        found = _look_up(portal, token, kind, now=now, stamp=stamp)
    except DBAPIError as exc:
        # Its connection dropped by the server (a restart): once more, on a new one.
        if not lost_connection(exc):
            raise
        found = _look_up(portal, token, kind, now=now, stamp=stamp)
    if found is not None and found.stamp is not None:
        # With the stamp: read by the same statement as the viewer, before the page.
        request.state.data_stamp = found.stamp
    if found is None:
        if kind == sessions.BROWSER:
            # The session has ended: keep the CSRF token, forget the session's.
            request.state.session = SessionData(csrf=data.csrf)
            request.state.session_changed = True
        return viewer
    if found.stale:
        sessions.touch(portal.factory, found.session_id, now=now)
    user = found.user
    return replace(
        viewer,
        lang=pick_language(request.cookies.get(LANGUAGE_COOKIE), user.language, _accept(request)),
        user_id=user.id,
        name=user.name,
        email=user.email,
        role=user.role,
        city_id=user.city_id,
        country_code=user.country_code,
        actor=actor_for(user),
        session_id=found.session_id,
    )


def _look_up(
    portal: Portal, token: str, kind: str, *, now: datetime, stamp: bool
) -> sessions.Valid | None:
    with portal.looking_up() as session:
        return sessions.look_up(session, portal.settings, token, kind, now=now, stamp=stamp)


def anonymous(request: Request) -> Viewer:
    """The viewer before (or without) a sign-in: the browser's language and CSRF token,
    read from the request alone."""
    lang = pick_language(request.cookies.get(LANGUAGE_COOKIE), None, _accept(request))
    return Viewer(csrf=request.state.session.csrf, lang=lang)


def _accept(request: Request) -> str:
    return request.headers.get("accept-language", "")


def viewer(request: Request) -> Viewer:
    """Dependency: whoever is looking, signed in or not."""
    return stamped_viewer(request)


def stamped_viewer(request: Request, *, stamp: bool = False) -> Viewer:
    """:func:`viewer`, and with ``stamp`` the data stamp too (see :func:`load_viewer`).
    Only a request's first call reads."""
    cached: Viewer | None = getattr(request.state, "viewer", None)
    if cached is None:
        cached = load_viewer(request, stamp=stamp)
        request.state.viewer = cached
        # A refused form's note for this page, read now: before the page's own
        # transaction begins (on SQLite a second writer would wait for it).
        flash.note(request)
    return cached


async def signed_in(request: Request) -> Viewer:
    """Dependency: the signed-in user, or :class:`SignInRequired`. A coroutine, so that
    the lookup (one short read) runs on the event loop rather than in a thread of its
    own before the view's (see :mod:`web.routing`)."""
    found = viewer(request)
    if not found.signed_in:
        raise SignInRequired()
    return found


def actor_of(found: Viewer) -> Actor:
    assert found.actor is not None
    return found.actor


async def checked_form(request: Request) -> AsyncIterator[FormData]:
    """Dependency of every page POST: the form, once its CSRF token matched the session.

    Uploaded files in the form are closed when the request is done.
    """
    form = await request.form()
    try:
        token = form.get("csrf_token")
        if not isinstance(token, str) or not same_token(token, request.state.session.csrf):
            raise CsrfRejected()
        yield form
    finally:
        await form.close()
