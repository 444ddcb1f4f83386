"""Benchmark 4: the portal's two busiest lists under 20 concurrent signed-in clients.

The world: 10k members (each with an open report) and 10k applications submitted to
their Commissions (50 per country). The portal runs under uvicorn in its own process
(:mod:`bench.portal_server`); 20 httpx clients on loopback sign in and request one page
in a loop, for a bounded number of requests or seconds, whichever comes first. Reported:
p50 and p95 of the request latency as the clients saw it.
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

import httpx
from sqlalchemy import insert, update

from bench.databases import Scratch
from bench.harness import Section, Table, Target, fmt, say
from bench.world import load_applicants, load_members
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
}


def why_slow(got: Latencies, clients: int, sqlite: bool) -> str:
    """The cause, from what was measured: the throughput and the queue it makes."""
    rate = len(got.seconds) / got.wall
    return explain(rate, clients)


def explain(rate: float, clients: int) -> str:
    return (
        f"the portal served {rate:.0f} requests/s: each request took about "
        f"{2000 / rate:.0f} ms of the two cores (the clients' share included), and each of "
        f"{clients} closed-loop clients waits behind the others (Little's law: latency is "
        f"about {clients} / {rate:.0f} s). A p95 under 100 ms with {clients} clients needs "
        f"more than {clients * 10} requests/s, about {2000 / (clients * 10):.0f} ms of the "
        "two cores per request. The portal already runs two worker processes, reads in read-only "
        "transactions and lists with narrow queries; what is left is Python work per "
        "request (FastAPI, the session, Jinja rendering 50 rows, SQLAlchemy). Closing it: "
        "a cheaper rendering path for the lists, or more cores"
    )


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
    engine.dispose()
    return url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def portal(url: str) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.portal_server", url, str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the portal did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


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
        f"country's), the portal under uvicorn in its own process, {clients} concurrent "
        f"signed-in httpx clients on loopback, up to {requests} requests per page or "
        f"{int(seconds)} s, whichever comes first. Latency as the client saw it.",
    )
    for scratch in scratches:
        say(f"  benchmark 4 on {scratch.backend}: {members} members, {applications} applications")
        url = prepare(scratch, members, applications)
        table = Table(
            ["page", "requests", "failed", "p50 ms", "p95 ms", "requests/s"], title=scratch.backend
        )
        try:
            with portal(url) as base:
                for page, (who, path) in PAGES.items():
                    # One warm-up request: the first one fills caches of templates and SQL.
                    asyncio.run(load(base, who, path, 1, 1, seconds))
                    got = asyncio.run(load(base, who, path, clients, requests, seconds))
                    p50, p95 = got.percentile(0.5), got.percentile(0.95)
                    table.rows.append(
                        [page, str(len(got.seconds)), str(got.failed), fmt(1000 * p50),
                         fmt(1000 * p95),
                         fmt(len(got.seconds) / got.wall)]
                    )  # fmt: skip
                    target = Target(
                        f"{scratch.backend}: {page} p95",
                        1000 * p95,
                        100,
                        " ms",
                        at_most=True,
                        why_missed=why_slow(got, clients, scratch.backend == "sqlite"),
                    )
                    section.targets.append(target)
                    say(target.line())
        finally:
            scratch.discard(url)
        section.tables.append(table)
    return section
