"""Benchmark 4: the portal's busiest pages under 1 and 20 connections, beside the floor.

The world: 10k members (each with an open report) and 10k applications submitted to
their Commissions (50 per country). The portal runs under uvicorn in its own process
(:mod:`bench.portal_server`, ``[web] workers`` processes, as ``gnlc serve``). ``wrk``, a C
load generator that leaves the CPU to the portal, requests one page over 1 and then 20
keep-alive connections with a signed-in session's cookie. Beside it, in the same run and
taking turns with it, the framework's floor (:mod:`bench.floor_server`: a bare Starlette
app under the same uvicorn settings) serves the very body the portal answered. Reported:
wrk's rate and latency percentiles, and our rate as a share of the floor's. A second
view keeps the closed-loop httpx clients of earlier runs (the clients' own CPU included).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from sqlalchemy import insert, select, update

from bench import portal_parts
from bench.databases import Scratch
from bench.harness import Section, Table, Target, fmt, say
from bench.world import load_applicants, load_members, settle
from bench.wrk import WrkResult
from bench.wrk import missing as wrk_missing
from bench.wrk import run as wrk_run
from web.security import hash_password
from workflow.db import make_engine
from workflow.models import Application, User

PASSWORD = "bench-password"
USERS = {
    "commission": ("commission.aa@example.org", "commission", "AA"),
    "institute": ("institute@example.org", "institute", None),
}
PAGES = {
    "Commission queue (/applications)": ("commission", "/applications"),
    "Institute member list (/members)": ("institute", "/members"),
    "an application's page (/applications/N)": ("commission", "/applications/{app}"),
    "home page (/)": ("commission", "/"),
}
CONNECTIONS = (1, 20)


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Latencies:
    seconds: list[float]
    wall: float
    failed: int = 0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.seconds) or [float("nan")]
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def prepare(scratch: Scratch, members: int, applications: int) -> str:
    url = scratch.fresh()
    engine = make_engine(url)
    load_members(
        engine, members, admitted=[2021, 2023, 2025], due_on=date(2027, 3, 31),
        reports_from=date(2026, 1, 1),
    )  # fmt: skip
    load_applicants(engine, applications, per_country=50)
    now = datetime(2027, 4, 1, tzinfo=UTC)
    password_hash = hash_password(PASSWORD)
    with engine.begin() as conn:
        conn.execute(update(Application).values(state="submitted", submitted_at=now, version=2))
        conn.execute(
            insert(User),
            [
                {"email": email, "name": f"bench {role}", "role": role, "country_code": country,
                 "city_id": None, "language": "en", "password_hash": password_hash,
                 "active": True, "created_at": now}
                for email, role, country in USERS.values()
            ],
        )  # fmt: skip
    settle(engine)
    engine.dispose()
    return url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(module: str, argument: str, probe: str, what: str, *more: str) -> Iterator[str]:
    """``python -m MODULE ARGUMENT PORT [MORE]`` on a free port, until it answers ``probe``."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", module, argument, str(port), *more])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}{probe}", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{what} did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def portal(url: str, *, drawn: bool = False) -> AbstractContextManager[str]:
    """The portal over ``url`` in its own process (:mod:`bench.portal_server`); ``drawn``:
    with its page cache off."""
    return served("bench.portal_server", url, "/login", "the portal", *(["drawn"] * drawn))


def floor(folder: Path) -> AbstractContextManager[str]:
    """The floor app serving ``folder``'s bodies (:mod:`bench.floor_server`)."""
    return served("bench.floor_server", str(folder), "/ready", "the floor app")


async def sign_in(client: httpx.AsyncClient, who: str) -> None:
    email = USERS[who][0]
    page = await client.get("/login")
    found = CSRF.search(page.text)
    if found is None:
        raise RuntimeError("no CSRF token on the sign-in page")
    answer = await client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": found.group(1), "next": "/"},
    )
    if answer.status_code >= 400 or "/login" in str(answer.headers.get("location", "")):
        raise RuntimeError(f"signing in as {email} failed: {answer.status_code}")


async def load(
    base: str, who: str, path: str, clients: int, requests: int, seconds: float
) -> Latencies:
    """``clients`` signed-in clients request ``path`` until ``requests`` in all or
    ``seconds`` have passed. Clients sign in one after the other, before the clock starts."""
    latencies: list[float] = []
    failures: list[int] = []
    sessions = [httpx.AsyncClient(base_url=base, timeout=120) for _ in range(clients)]
    for client in sessions:
        await sign_in(client, who)
    stop = time.monotonic() + seconds

    async def one(client: httpx.AsyncClient) -> None:
        while len(latencies) + len(failures) < requests and time.monotonic() < stop:
            start = time.perf_counter()
            answer = await client.get(path)
            if answer.status_code == 200:
                latencies.append(time.perf_counter() - start)
            else:
                failures.append(answer.status_code)

    start = time.perf_counter()
    try:
        await asyncio.gather(*(one(c) for c in sessions))
    finally:
        for client in sessions:
            await client.aclose()
    return Latencies(latencies, time.perf_counter() - start, len(failures))


def _cookie(base: str, who: str) -> str:
    async def signed() -> str:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            await sign_in(client, who)
            return "; ".join(f"{name}={value}" for name, value in client.cookies.items())

    return asyncio.run(signed())


def _an_application(url: str) -> int:
    """A submitted application of the Commission's country (its page is the one shown)."""
    engine = make_engine(url)
    with engine.connect() as conn:
        found = conn.execute(
            select(Application.id).where(Application.country_code == USERS["commission"][2])
            .order_by(Application.id).limit(1)
        ).scalar_one()  # fmt: skip
    engine.dispose()
    return int(found)


def run(
    scratches: list[Scratch],
    *,
    members: int,
    applications: int,
    clients: int,
    requests: int,
    seconds: float,
) -> Section:
    section = Section(
        "4. Portal",
        f"{members:,} members with open reports and {applications:,} applications "
        "submitted to their Commissions (50 per country; the Commission sees its own "
        f"country's). The portal under uvicorn in its own process; `wrk` over "
        f"{' and '.join(map(str, CONNECTIONS))} keep-alive connections for {int(seconds)} s "
        "per measurement, with a signed-in session's cookie, taking turns with the floor: a "
        "bare Starlette app under the same uvicorn settings serving the same body. wrk asks "
        "for the same page again and again while nothing changes, so the portal sends the "
        "page it keeps (web/page_cache.py: drawn once, sent again until the database or "
        "the minute changes, the session checked at every request). The second table is "
        "the same wrk run against a portal with its page cache off, every view drawn: what "
        "a page costs right after a change. Third view: "
        f"{clients} closed-loop httpx clients (up to {requests} requests per page).",
    )
    problem = wrk_missing()
    if problem is not None:
        section.notes.append(f"Not measured with wrk: {problem}.")
    for scratch in scratches:
        say(f"  benchmark 4 on {scratch.backend}: {members} members, {applications} applications")
        url = prepare(scratch, members, applications)
        app_id = _an_application(url)
        table = Table(
            ["page", "connections", "requests/s", "p50 ms", "p99 ms", "floor requests/s",
             "floor p50 ms", "of the floor"],
            title=f"{scratch.backend}: wrk",
        )  # fmt: skip
        drawn = Table(
            ["page", "connections", "requests/s", "p50 ms", "p99 ms", "of the floor"],
            title=f"{scratch.backend}: wrk, page cache off (every view drawn)",
        )
        second = Table(
            ["page", "requests", "failed", "p50 ms", "p95 ms", "requests/s"],
            title=f"{scratch.backend}: {clients} httpx clients (third view)",
        )
        floors: dict[tuple[str, int], float] = {}
        bodies = Path(tempfile.mkdtemp(prefix="gnlc-bench-floor-"))
        try:
            with portal(url) as base:
                cookies = {who: _cookie(base, who) for who in USERS}
                paths = {page: (w, path.format(app=app_id)) for page, (w, path) in PAGES.items()}
                for number, (who, path) in enumerate(paths.values()):
                    body = httpx.get(base + path, headers={"Cookie": cookies[who]}, timeout=60)
                    if body.status_code != 200:
                        raise RuntimeError(f"{path} answered {body.status_code}")
                    (bodies / f"p{number}.html").write_bytes(body.content)
                with floor(bodies) as floor_base:
                    for number, (page, (who, path)) in enumerate(paths.items()):
                        if problem is None:
                            _measure(section, table, scratch.backend, page, number,
                                     base + path, f"{floor_base}/p{number}", cookies[who],
                                     seconds, floors)  # fmt: skip
                        got = asyncio.run(load(base, who, path, clients, requests, seconds))
                        second.rows.append(
                            [page, str(len(got.seconds)), str(got.failed),
                             fmt(1000 * got.percentile(0.5)), fmt(1000 * got.percentile(0.95)),
                             fmt(len(got.seconds) / got.wall)]
                        )  # fmt: skip
            if problem is None:
                with portal(url, drawn=True) as base:
                    cookies = {who: _cookie(base, who) for who in USERS}
                    for page, (who, path) in paths.items():
                        _measure_drawn(drawn, page, base + path, cookies[who], seconds, floors)
            parts = portal_parts.measure(
                url, {page: paths[page] for page in PAGES}, USERS, PASSWORD, CSRF, requests,
                f"{scratch.backend}: where one drawn view's time goes (page cache off; in "
                "this process, no network)",
            )  # fmt: skip
        finally:
            scratch.discard(url)
            shutil.rmtree(bodies, ignore_errors=True)
        section.tables += [table, *([drawn] if drawn.rows else []), second, parts]
    return section


def _measure(
    section: Section,
    table: Table,
    backend: str,
    page: str,
    number: int,
    ours: str,
    bare: str,
    cookie: str,
    seconds: float,
    floors: dict[tuple[str, int], float],
) -> None:
    """wrk on our page and on the floor, each connection count in turn; the targets.
    ``floors``: the floor's rate by page and connections, filled in."""
    got: dict[int, tuple[WrkResult, WrkResult]] = {}
    for connections in CONNECTIONS:
        wrk_run(ours, connections=connections, seconds=1, headers={"Cookie": cookie})  # warm
        mine = wrk_run(ours, connections=connections, seconds=seconds, headers={"Cookie": cookie})
        base = wrk_run(bare, connections=connections, seconds=seconds, headers={})
        got[connections] = (mine, base)
        floors[page, connections] = base.rate
        table.rows.append(
            [page, str(connections), fmt(mine.rate), fmt(mine.p50_ms), fmt(mine.p99_ms),
             fmt(base.rate), fmt(base.p50_ms), f"{fmt(mine.rate / base.rate)}x"
             + (f" ({mine.errors})" if mine.errors else "")]
        )  # fmt: skip
    one, many = got[1][0], got[20][0]
    name = f"{backend}: {page}"
    section.targets += [
        Target(f"{name}, 1 connection p50", one.p50_ms, 2.0, " ms", at_most=True,
               why_missed=_cpu_bound(one)),
        Target(f"{name}, 20 / 1 connections", many.rate / one.rate, 1.7, "x",
               why_missed=_serialised(one, many)),
        Target(f"{name}, 20 connections p99", many.p99_ms, 100.0, " ms", at_most=True,
               why_missed=_serialised(one, many)),
        Target(f"{name}, of the floor (1 connection)", one.rate / got[1][1].rate, 0.1, "x",
               why_missed=_cpu_bound(one)),
        Target(f"{name}, of the floor (20 connections)", many.rate / got[20][1].rate, 0.1, "x",
               why_missed=_cpu_bound(many)),
    ]  # fmt: skip
    for target in section.targets[-5:]:
        say(target.line())


def _measure_drawn(
    table: Table,
    page: str,
    ours: str,
    cookie: str,
    seconds: float,
    floors: dict[tuple[str, int], float],
) -> None:
    """wrk on a page the portal draws at every view; no target (the floor: as measured)."""
    for connections in CONNECTIONS:
        wrk_run(ours, connections=connections, seconds=1, headers={"Cookie": cookie})  # warm
        mine = wrk_run(ours, connections=connections, seconds=seconds, headers={"Cookie": cookie})
        floor_rate = floors.get((page, connections))
        share = f"{fmt(mine.rate / floor_rate)}x" if floor_rate else "-"
        table.rows.append(
            [page, str(connections), fmt(mine.rate), fmt(mine.p50_ms), fmt(mine.p99_ms),
             share + (f" ({mine.errors})" if mine.errors else "")]
        )  # fmt: skip


def _cpu_bound(got: WrkResult) -> str:
    return (
        f"{fmt(1000 / got.rate)} ms of one worker per request at {got.connections} "
        "connection(s): the page's own work, which this section's table of where one "
        "view's time goes splits into statements, rendering, the session lookup and the rest"
    )


def _serialised(one: WrkResult, many: WrkResult) -> str:
    cores = os.cpu_count() or 1
    return (
        f"{fmt(one.rate)} requests/s on 1 connection and {fmt(many.rate)} on 20: two workers "
        f"on two cores should nearly double. The machine's {cores} cores were "
        f"{fmt(one.busy_cores)} busy on 1 connection and {fmt(many.busy_cores)} on 20 (wrk "
        "included): when 20 keep all of them busy, nothing serialises the requests and what "
        "is left is each request's CPU; the faster one connection's requests, the more of "
        "the cores it already uses"
    )
