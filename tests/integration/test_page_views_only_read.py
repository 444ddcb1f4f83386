"""A page view only reads: every GET of every role's pages runs in read-only
transactions, never one that takes SQLite's write lock (``BEGIN IMMEDIATE``) or writes on
PostgreSQL. A write lock taken by a read serialises the portal's workers: with two
workers and 20 connections the pages served fewer requests than with one connection
(issue 12, benchmark 4 in docs/benchmarks.md)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from tests.conftest import ADMIN
from tests.e2e.clients import visitor
from tests.e2e.live import Live, live_portal
from tests.integration.test_languages import ROLES, START, crawl
from web.demo import PASSWORD
from web.security import hash_password
from workflow.db import READ_ONLY, transaction
from workflow.services import users

JUROR = "juror.ee@example.org"
#: Page views that may write, and why.
WRITING = {
    # The scheduler's dry run: the very sweep, in a transaction that is rolled back.
    "/admin/preview",
}
#: Written the first time only (then every view reads).
FIRST_TIME = {"/account/calendar"}  # the feed's secret address is made when first shown


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("reads")
    shutil.copy(sqlite_template, folder / "gnlc.db")
    with live_portal(f"sqlite:///{folder / 'gnlc.db'}", folder, START) as portal:
        with transaction(portal.factory) as session:
            users.create_user(
                session, ADMIN, email=JUROR, name="A juror", role="juror", country_code="EE",
                password_hash=hash_password(PASSWORD), now=START,
            )  # fmt: skip
        yield portal


@pytest.mark.parametrize("role", sorted({*ROLES, "juror"}))
def test_every_page_view_only_reads(live: Live, role: str) -> None:
    writes: list[int] = [0]
    engine = live.factory.kw["bind"]

    def began(connection: Any) -> None:
        if not connection.get_execution_options().get(READ_ONLY):
            writes[0] += 1

    person = visitor(live.url, ROLES.get(role, JUROR))  # signing in writes; what follows only reads
    writing: list[str] = []

    def before(request: httpx.Request) -> None:
        request.extensions["writes_before"] = writes[0]

    def after(response: httpx.Response) -> None:
        if (
            response.request.method == "GET"
            and writes[0] > response.request.extensions["writes_before"]
        ):
            writing.append(response.request.url.path)

    person.pages.event_hooks = {"request": [before], "response": [after]}
    event.listen(engine, "begin", began)
    try:
        pages = crawl(person)
        assert set(pages) >= FIRST_TIME
        writing = [p for p in writing if p not in WRITING | FIRST_TIME]
        for path in FIRST_TIME:  # seen once already: now it only reads
            person.pages.get(path)
    finally:
        event.remove(engine, "begin", began)
        person.close()
    assert len(pages) > 5
    assert writing == [], f"page views that opened a write transaction: {writing}"
