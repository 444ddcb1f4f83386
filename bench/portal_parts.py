"""Benchmark 4's breakdown: where one view of each page spends its time.

The portal app in this process (no uvicorn, no network), one signed-in client asking
each page in turn; a timer on the ASGI app (the whole view), on SQLAlchemy's statement
execution (the SQL, the driver and SQLAlchemy's own work per statement), on Jinja's
``Template.render`` and on the session lookup every request makes. What is left is the
ORM building objects from rows, the framework (routing, dependencies, middleware, the
thread a sync view runs in) and the page's own Python.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import defaultdict
from typing import Any

import httpx
import jinja2
from sqlalchemy.engine import base as sa_base

from bench import breakdown
from bench.harness import Table, fmt
from bench.portal_server import fixed_clock
from config import load_settings
from web import sessions
from web.app import create_app

PARTS: list[tuple[Any, str, str]] = [
    (sa_base.Connection, "_execute_context", "statements"),
    (jinja2.Template, "render", "rendering"),
    (sessions, "look_up", "session"),
]


def measure(
    url: str,
    pages: dict[str, tuple[str, str]],
    users: dict[str, tuple[str, str, str | None]],
    password: str,
    csrf: Any,
    views: int,
    title: str,
) -> Table:
    """``views`` views of each page (after 10 unmeasured ones): ms per view, by part."""
    settings = load_settings({}).with_overrides(
        database={"url": url},
        # Every view drawn (page cache off): where a drawn page's time goes.
        web={"demo_data": False, "secret_key": secrets.token_urlsafe(48),
             "public_url": "http://testserver", "page_cache_mb": 0},
    )  # fmt: skip
    app = create_app(settings, clock=fixed_clock)
    spent: dict[str, float] = defaultdict(float)

    async def timed(scope: Any, receive: Any, send: Any) -> None:
        start = time.perf_counter()
        try:
            await app(scope, receive, send)
        finally:
            spent["whole"] += time.perf_counter() - start

    table = Table(
        ["page", "ms per view", "statements (SQL, driver, SQLAlchemy)", "rendering (Jinja)",
         "session lookup (its statement included)",
         "the rest (ORM objects, framework and threads, the page's Python)"],
        title=title,
    )  # fmt: skip

    async def run() -> None:
        transport = httpx.ASGITransport(app=timed)
        clients: dict[str, httpx.AsyncClient] = {}
        try:
            for who, (email, _role, _country) in users.items():
                client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
                clients[who] = client
                login = await client.get("/login")
                token = csrf.search(login.text).group(1)
                await client.post(
                    "/login",
                    data={"email": email, "password": password, "csrf_token": token, "next": "/"},
                )
            for page, (who, path) in pages.items():
                for _ in range(10):
                    (await clients[who].get(path)).raise_for_status()
                spent.clear()
                with breakdown.timed(PARTS) as parts:
                    for _ in range(views):
                        (await clients[who].get(path)).raise_for_status()
                per = {k: 1000 * v / views for k, v in {**parts, "whole": spent["whole"]}.items()}
                rest = per["whole"] - per.get("statements", 0.0) - per.get("rendering", 0.0)
                table.rows.append(
                    [page, fmt(per["whole"]), fmt(per.get("statements", 0.0)),
                     fmt(per.get("rendering", 0.0)), fmt(per.get("session", 0.0)), fmt(rest)]
                )  # fmt: skip
        finally:
            for client in clients.values():
                await client.aclose()

    asyncio.run(run())
    return table
