"""``GET /healthz``, ``GET /readyz`` and ``GET /metrics`` for monitoring, and the timing
of every request.

- ``/healthz``: 200 ``{"status": "ok"}`` while the process answers at all.
- ``/readyz``: 200 when the database answers, its schema is the newest this code knows
  and the scheduler's sweep ran recently (within ``workflow.scheduler.heartbeat_limit``:
  three sweep intervals); otherwise 503, the body naming each failed check and what
  it found. The newest migration is read from the Alembic scripts once per process;
  each request reads only the database's ``alembic_version``.
- ``/metrics``: the Prometheus text format (see ``web.metrics``).

:class:`Monitoring` is the outermost middleware: it times every request by route
template, and answers these three paths itself, before the session layer, so a probe
needs no sign-in, gets no session cookie and costs no session work. They are not in
the OpenAPI schema.
"""

from __future__ import annotations

import asyncio
import functools
import time
from datetime import UTC, datetime
from typing import Any

from alembic.script import ScriptDirectory
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.metrics import REQUEST_SECONDS, UNMATCHED, scrape
from web.portal import Portal
from workflow.db import alembic_config
from workflow.faults import database_problem
from workflow.models import Heartbeat
from workflow.scheduler import heartbeat_limit

NO_STORE = {"Cache-Control": "no-store"}


@functools.cache
def newest_migrations(url: str) -> frozenset[str]:
    """The heads of the migration scripts (read once per process)."""
    return frozenset(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def readiness(portal: Portal, now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Each check's verdict: ``{"database": {"ok": True, "message": ...}, ...}``."""
    settings = portal.settings
    url = settings.database.url
    moment = now or datetime.now(UTC)  # heartbeats are written in real time
    checks: dict[str, dict[str, Any]] = {}
    try:
        with portal.reader() as session, session.begin():
            versions = set(session.scalars(text("SELECT version_num FROM alembic_version")))
            sweep = session.get(Heartbeat, "sweep")
    except SQLAlchemyError as exc:
        problem = database_problem(exc, url) or f"{type(exc).__name__}: {exc}"
        checks["database"] = {"ok": False, "message": problem}
        return checks
    checks["database"] = {"ok": True, "message": "the database answers"}
    heads = newest_migrations(url)
    if versions == heads:
        checks["schema"] = {"ok": True, "message": f"current ({', '.join(sorted(heads))})"}
    else:
        checks["schema"] = {
            "ok": False,
            "message": f"the database is at {', '.join(sorted(versions)) or 'no migration'}, "
            f"the code at {', '.join(sorted(heads))}: run `gnlc db upgrade`",
        }
    limit = heartbeat_limit(settings, "sweep")
    if sweep is None:
        checks["sweep"] = {
            "ok": False,
            "message": "the scheduler's sweep has never run on this database: start the scheduler",
        }
    else:
        age = (moment - sweep.at).total_seconds()
        fresh = age <= limit.total_seconds()
        checks["sweep"] = {
            "ok": fresh,
            "message": f"last sweep {age:.0f} s ago"
            + ("" if fresh else f", more than {limit.total_seconds():.0f} s: is the scheduler "
               "running? Look at its log"),
            "last_run": sweep.at.isoformat(),
        }  # fmt: skip
    return checks


def _portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


async def readyz(request: Request) -> Response:
    checks = await asyncio.to_thread(readiness, _portal(request))
    failed = [name for name, check in checks.items() if not check["ok"]]
    body = {"status": "not ready" if failed else "ready", "failed": failed, "checks": checks}
    return JSONResponse(body, status_code=503 if failed else 200, headers=NO_STORE)


async def metrics(request: Request) -> Response:
    portal = _portal(request)
    payload = await asyncio.to_thread(scrape, portal.reader, portal.clock)
    return Response(payload, media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)


router = Router(
    routes=[
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
)
PATHS = frozenset(route.path for route in router.routes if isinstance(route, Route))


def route_template(scope: Scope) -> str:
    """The template of the route that answered (``/applications/{app_id}``)."""
    route = scope.get("route")
    if isinstance(route, Mount):
        return f"{route.path}/{{path}}"
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class Monitoring:
    """Times every HTTP request (``gnlc_http_request_duration_seconds``) and answers the
    monitoring paths itself (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        target = router if scope["path"] in PATHS else self.app
        try:
            await target(scope, receive, sending)
        finally:
            REQUEST_SECONDS.labels(scope["method"], route_template(scope), str(status)).observe(
                time.perf_counter() - started
            )
