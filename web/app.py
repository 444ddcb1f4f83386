"""The application factory: pages, API, static files, and how refusals are shown."""

from __future__ import annotations

import importlib
import logging
import math
import pkgutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config import Settings
from config.paths import uploads_folder
from notifications import wiring
from web import (
    api,
    api_admin,
    api_announcements,
    api_applications,
    api_jury,
    api_members,
    api_questionnaires,
    pages,
)
from web.health import Monitoring
from web.outage import DatabaseDown
from web.page_cache import PageCache
from web.portal import (
    Clock,
    Portal,
    portal_of,
    read_only_factory,
    real_clock,
    single_statement_factory,
)
from web.security import SessionSigner
from web.sessions import cookie_max_age, resolve_secret_key
from web.templating import environment, render, said
from web.viewer import SessionCookie, SignInRequired
from workflow.db import make_engine, session_factory
from workflow.errors import WorkflowError

STATIC = Path(__file__).with_name("static")
STATIC_PATH = "/static/"
log = logging.getLogger(__name__)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


#: Page modules whose routes must come first (a fixed path before a ``{id}`` one).
_FIRST = ("auth", "home", "applications", "members", "admin")


def page_routers() -> Iterator[APIRouter]:
    """The ``router`` of every module in :mod:`web.pages`: a new page module needs no
    registration."""
    names = [info.name for info in pkgutil.iter_modules(pages.__path__)]
    ordered = [n for n in _FIRST if n in names] + sorted(n for n in names if n not in _FIRST)
    for name in ordered:
        router = getattr(importlib.import_module(f"web.pages.{name}"), "router", None)
        if isinstance(router, APIRouter):
            yield router


def _error_page(request: Request, status: int, error: str | None = None) -> Response:
    """An error as a page in the reader's language, with a way back."""
    return render(request, "error.html", {"error": error, "status": status}, status=status)


def _retry_after(request: Request, exc: WorkflowError) -> dict[str, str]:
    """``Retry-After`` for a throttled sign-in (until its lock ends) or a busy database."""
    until = getattr(exc, "until", None)
    if isinstance(until, datetime):
        wait = (until - portal_of(request).now()).total_seconds()
        return {"Retry-After": str(max(1, math.ceil(wait)))}
    if exc.status == 503:
        return {"Retry-After": str(getattr(exc, "retry_after", 1))}
    return {}


def _refused(request: Request, exc: WorkflowError) -> Response:
    """A refusal: JSON for the API, a page in the reader's language for everyone else."""
    headers = _retry_after(request, exc)
    if _wants_json(request):
        return JSONResponse(
            {"code": exc.code, "message": str(exc)}, status_code=exc.status, headers=headers
        )
    page = _error_page(request, exc.status, said(request, exc))
    page.headers.update(headers)
    return page


class SecurityHeaders:
    """The headers every answer carries (plain ASGI, like ``web.viewer.SessionCookie``)."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.extra: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (
                b"content-security-policy",
                b"default-src 'self'; img-src 'self' data:; style-src 'self'; "
                b"frame-ancestors 'none'; form-action 'self'",
            ),
        ]
        if hsts:  # the public URL is https
            self.extra.append(
                (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Every page carries the session's CSRF token and, signed in, the user's data;
        # every API answer is a user's data: no browser or proxy may keep a copy. The
        # stylesheet and scripts under /static keep their caching.
        private = not scope["path"].startswith(STATIC_PATH)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in self.extra if n not in present]
                if private and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, sending)


def _include_flat(app: FastAPI, router: APIRouter) -> None:
    """Put ``router``'s routes on the app's own router, in their order.

    Since FastAPI 0.137, ``include_router`` keeps the included router as a node of a tree
    that every request walks in Python, with bookkeeping on the scope for each route it
    tries: for this portal's 27 routers, about 0.4 ms of routing per request (the ASGI app
    called directly, ``/favicon.ico``: CPU per request 0.9-1.0 -> 0.55 ms). Our routers take
    every option (prefix, responses, route class) when they are made, and none at
    inclusion, so their routes are complete as they are: added directly, they are matched
    by the plain loop over routes, first match wins, exactly as before."""
    app.router.routes.extend(router.routes)


def create_app(
    settings: Settings,
    factory: sessionmaker[Session] | None = None,
    *,
    clock: Clock | None = None,
) -> FastAPI:
    """The portal for ``settings``. ``clock`` replaces the real clock (tests only).

    Raises ``web.sessions.SecretKeyError`` (one line) when the secret key will not do.
    """
    wiring.install()  # the domain's events write the outbox
    secret_key = resolve_secret_key(settings)
    if factory is None:
        factory = session_factory(make_engine(settings.database.url))
    app = FastAPI(
        title="GNLC portal API",
        version="1",
        description=(
            "Applications, endorsements, admissions and progress reports of the UNESCO "
            "Global Network of Learning Cities. Sign in with POST /api/v1/session and send "
            "the token as 'Authorization: Bearer <token>'."
        ),
        # The bundled docs page loads its scripts from a CDN; the machine is offline.
        docs_url=None,
        redoc_url=None,
    )
    app.state.portal = Portal(
        settings=settings,
        factory=factory,
        clock=clock or real_clock,
        signer=SessionSigner(secret_key, max_age=cookie_max_age(settings)),
        templates=environment(),
        uploads=uploads_folder(settings),
        secure_cookies=settings.web.public_url.startswith("https://"),
        reader=read_only_factory(factory),
        single=single_statement_factory(factory),
    )
    app.add_middleware(PageCache, max_bytes=settings.web.page_cache_mb * 1024 * 1024)
    app.add_middleware(DatabaseDown, answer=_refused)
    app.add_middleware(SessionCookie)
    app.add_middleware(SecurityHeaders, hsts=app.state.portal.secure_cookies)

    @app.exception_handler(WorkflowError)
    def refused(request: Request, exc: WorkflowError) -> Response:
        return _refused(request, exc)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> Response:
        if _wants_json(request):
            return await request_validation_exception_handler(request, exc)
        # A page's address with a part that is not valid (``/applications/abc``, ``?page=x``):
        # the reader gets words, never the framework's field paths.
        return await run_in_threadpool(_error_page, request, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request) or request.url.path.startswith(STATIC_PATH):
            return await http_exception_handler(request, exc)
        page = await run_in_threadpool(_error_page, request, exc.status_code)
        page.headers.update(exc.headers or {})
        return page

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> Response:
        # Starlette logs the exception and re-raises it after this answer is sent.
        if _wants_json(request):
            return JSONResponse(
                {"code": "internal_error", "message": "Something went wrong on the server."},
                status_code=500,
            )
        try:
            return await run_in_threadpool(_error_page, request, 500)
        except Exception:  # the page itself cannot be drawn (no database): plain words
            log.exception("the error page could not be drawn")
            return Response("Something went wrong on the server.", status_code=500)

    @app.exception_handler(SignInRequired)
    def sign_in_first(request: Request, exc: SignInRequired) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"code": "sign_in_required", "message": "Sign in first (POST /api/v1/session)."},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    routers = [
        *page_routers(),
        *(api.router, api_applications.router, api_members.router, api_admin.router),
        *(api_questionnaires.router, api_jury.router, api_announcements.router),
    ]
    for router in routers:
        _include_flat(app, router)
    # Outermost: times every request; answers /healthz, /readyz, /metrics (web.health).
    app.add_middleware(Monitoring)
    return app
