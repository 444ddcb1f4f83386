"""Benchmark 3: dispatching the outbox to a relay that answers each message in 20 ms.

The relay is :mod:`bench.smtp_server` in its own process. Ours: :func:`dispatch` with an
:class:`SmtpSender` pool of P connections (claim, compose, send, record as sent). The
bound is P / delay messages per second: no pool of P connections can do better. The
naive way: :mod:`smtplib`, one connection per message, one message after the other,
each composed the same way and marked sent in its own transaction.
"""

from __future__ import annotations

import smtplib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from bench.databases import Scratch
from bench.harness import Section, Table, Target, fmt, say
from config import Settings, load_settings
from notifications.compose import compose
from notifications.dispatcher import dispatch
from notifications.models import OutboxMessage
from notifications.outbox import Owed, Status, rows_for
from notifications.recipients import Addressing, Recipient
from notifications.senders import SmtpSender
from workflow.db import make_engine, session_factory, transaction

DELAY = 0.02
NOW = datetime(2027, 4, 10, 12, 0, tzinfo=UTC)


@contextmanager
def relay(delay: float) -> Iterator[int]:
    """A slow SMTP server in another process; yields its port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.smtp_server", str(delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if not line or line[0] != "ready":
            raise RuntimeError("the benchmark SMTP server did not start")
        yield int(line[1])
    finally:
        process.terminate()
        process.wait(timeout=10)


def settings_for(url: str, port: int, pool: int) -> Settings:
    return load_settings({}).with_overrides(
        database={"url": url},
        mail={"sender": "smtp"},
        smtp={"host": "127.0.0.1", "port": port, "pool_size": pool, "timeout_seconds": 30.0},
    )


def fill_outbox(url: str, count: int, settings: Settings) -> None:
    """``count`` pending messages: one rendered reminder copied to distinct recipients."""
    city = Recipient("city@city.example.org", "Focal point", "en")
    owed = Owed(
        "report_due_today",
        "report",
        1,
        Addressing(to=(city,)),
        {
            "report_id": 1,
            "city": "Jelgava",
            "country": "Latvia",
            "commission": "Latvian National Commission for UNESCO",
            "due_on": NOW.date(),
            "timezone": "Europe/Riga",
            "days_left": 0,
            "days_overdue": 0,
            "escalated": False,
            "grace_until": NOW.date(),
            "network": settings.network.name,
            "url": "http://127.0.0.1:8000/reports/1",
        },
    )
    (template,) = rows_for(owed, NOW, settings.mail.from_address)
    rows: list[dict[str, Any]] = []
    for i in range(count):
        address = f"city{i}@city.example.org"
        rows.append(
            {
                **template,
                "key": f"report:{i}:report_due_today:1:{address}",
                "subject_id": i,
                "recipient": address,
                "to_addrs": [address],
                "message_id": f"<{uuid.uuid4().hex}@unesco.org>",
            }
        )
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(OutboxMessage), rows)
    engine.dispose()


def run_ours(url: str, port: int, pool: int, count: int) -> float:
    settings = settings_for(url, port, pool)
    engine = make_engine(url)
    factory = session_factory(engine)
    sender = SmtpSender(settings.smtp, settings.mail.from_address, pool_size=pool)
    start = time.perf_counter()
    result = dispatch(factory, settings, now=NOW, worker="bench", sender=sender)
    seconds = time.perf_counter() - start
    engine.dispose()
    if result.sent != count:
        raise RuntimeError(f"dispatch sent {result.sent} of {count}: {result}")
    return seconds


def run_ceiling(port: int, pool: int, count: int, settings: Settings) -> float:
    """The setup's own ceiling: P aiosmtplib connections sending a composed message in a
    loop, with no database, no claiming and no recording."""
    import asyncio

    import aiosmtplib

    with session_factory(make_engine(settings.database.url))() as session:
        row = session.scalars(select(OutboxMessage).limit(1)).one()
        message = compose(row, settings, NOW)
        recipient = row.recipient

    async def one(client: aiosmtplib.SMTP, times: int) -> None:
        for _ in range(times):
            await client.send_message(
                message, sender=settings.mail.from_address, recipients=[recipient]
            )

    async def main() -> float:
        clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=port) for _ in range(pool)]
        for client in clients:
            await client.connect()
        start = time.perf_counter()
        await asyncio.gather(*(one(c, count // pool) for c in clients))
        seconds = time.perf_counter() - start
        for client in clients:
            await client.quit()
        return seconds

    return asyncio.run(main()) * count / (pool * (count // pool))


def run_naive(url: str, port: int, count: int) -> float:
    settings = settings_for(url, port, 1)
    engine = make_engine(url)
    factory = session_factory(engine)
    start = time.perf_counter()
    with factory() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    for row in rows:
        message = compose(row, settings, NOW)
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.send_message(message, settings.mail.from_address, [row.recipient])
        with transaction(factory) as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id)
                .values(status=Status.SENT, sent_at=NOW)
            )
    seconds = time.perf_counter() - start
    engine.dispose()
    if len(rows) != count:
        raise RuntimeError(f"naive found {len(rows)} of {count} messages")
    return seconds


def run(
    scratches: list[Scratch], *, count: int, naive_count: int, pools: list[int], repeats: int
) -> Section:
    section = Section(
        "3. Dispatch",
        f"{count} pending outbox messages sent to an aiosmtpd relay in another process that "
        f"accepts each message after {int(DELAY * 1000)} ms. Ours: the dispatcher with a "
        "pool of P reused connections; the bound is P / 20 ms. The naive way: smtplib, one "
        f"connection per message, sequential ({naive_count} messages: its rate does not "
        f"depend on the count). Best of {repeats}; the naive run sits between ours, back "
        "to back.",
    )
    # The ceiling does not depend on the database: measured once, with the first one.
    ceiling: dict[int, list[float]] = {p: [] for p in pools}
    with relay(DELAY) as port:
        for scratch in scratches:
            say(f"  benchmark 3 on {scratch.backend}: {count} messages, pools {pools}")
            table = Table(
                [
                    "sender",
                    "messages",
                    "best s",
                    "messages/s",
                    "bound/s",
                    "of the bound",
                    "x naive",
                ],
                title=scratch.backend,
            )
            naive_rates: list[float] = []
            ours: dict[int, list[float]] = {p: [] for p in pools}
            for _ in range(repeats):
                for pool in pools:
                    url = scratch.fresh()
                    fill_outbox(url, count, settings_for(url, port, pool))
                    seconds = run_ours(url, port, pool, count)
                    ours[pool].append(count / seconds)
                    if len(ceiling[pool]) < repeats:
                        alone = run_ceiling(port, pool, count, settings_for(url, port, pool))
                        ceiling[pool].append(count / alone)
                    scratch.discard(url)
                    say(
                        f"    {scratch.backend} pool {pool}: {ours[pool][-1]:.0f} messages/s "
                        f"(aiosmtplib alone: {ceiling[pool][-1]:.0f})"
                    )
                url = scratch.fresh()
                fill_outbox(url, naive_count, settings_for(url, port, 1))
                naive_rates.append(naive_count / run_naive(url, port, naive_count))
                scratch.discard(url)
                say(f"    {scratch.backend} naive: {naive_rates[-1]:.1f} messages/s")
            naive = max(naive_rates)
            for pool in pools:
                rate = max(ours[pool])
                bound = pool / DELAY
                alone = max(ceiling[pool])
                table.rows.append(
                    [f"ours, pool of {pool}", str(count), fmt(count / rate), fmt(rate), fmt(bound),
                     f"{100 * rate / bound:.0f}%", f"{fmt(rate / naive)}x"]
                )  # fmt: skip
                table.rows.append(
                    [f"ceiling of this setup: {pool} bare aiosmtplib connections, no database",
                     str(count), fmt(count / alone), fmt(alone), fmt(bound),
                     f"{100 * alone / bound:.0f}%", f"{fmt(alone / naive)}x"]
                )  # fmt: skip
                relay_bound = alone < 0.8 * bound
                missed_bound = (
                    f"the relay setup itself reaches only {100 * alone / bound:.0f}% of the bound "
                    "(bare aiosmtplib, no database), so the CPU of this machine (aiosmtpd and the "
                    f"client parse every command in Python) is the limit; ours reaches "
                    f"{100 * rate / alone:.0f}% of that ceiling"
                    if relay_bound
                    else f"ours reaches {100 * rate / alone:.0f}% of what bare connections do"
                )
                section.targets.append(
                    Target(
                        f"{scratch.backend} pool {pool}: share of the bound",
                        100 * rate / bound,
                        80,
                        "%",
                        why_missed=missed_bound,
                    )
                )
                section.targets.append(
                    Target(
                        f"{scratch.backend} pool {pool}: ours / naive",
                        rate / naive,
                        6.0,
                        why_missed=(
                            f"the bound itself is {fmt(bound / naive)}x the naive rate: a pool "
                            "of P connections cannot beat one sequential connection by more than "
                            "about P; at least 6 connections are needed"
                        )
                        if bound / naive < 6
                        else "",
                    )
                )
            table.rows.append(
                ["naive: smtplib, a connection per message", str(naive_count),
                 fmt(naive_count / naive), fmt(naive), fmt(1 / DELAY),
                 f"{100 * naive * DELAY:.0f}%", "1"]
            )  # fmt: skip
            section.tables.append(table)
            for target in section.targets[-2 * len(pools) :]:
                say(target.line())
    return section
