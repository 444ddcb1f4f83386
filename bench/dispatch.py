"""Benchmark 3: dispatching the outbox to a relay that answers each message in 20 ms.

The relay is :mod:`bench.smtp_server` in its own process. Ours: :func:`dispatch` with an
:class:`SmtpSender` pool of P connections (claim, compose, send, record as sent). The
bound is P / delay messages per second: no pool of P connections can do better. The
ceiling: P bare aiosmtplib connections sending one composed message, flattened once, in
a loop (what this relay, this client library and this machine allow); ours is measured
against it in the same round, with the same pool. The naive way: :mod:`smtplib`, one
connection per message, one message after the other, each composed the same way and
marked sent in its own transaction.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import aiosmtplib
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from bench.databases import Scratch
from bench.harness import Rounds, Section, Table, Target, fmt, say
from config import Settings, load_settings
from notifications.compose import compose
from notifications.dispatcher import dispatch
from notifications.models import OutboxMessage
from notifications.outbox import Owed, Status, rows_for
from notifications.recipients import Addressing, Recipient
from notifications.senders import SmtpSender, wire_bytes
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


def run_ours(factory: sessionmaker[Session], settings: Settings, pool: int, count: int) -> float:
    """The seconds of one dispatch pass that sends ``count`` messages."""
    sender = SmtpSender(settings.smtp, settings.mail.from_address, pool_size=pool)
    start = time.perf_counter()
    result = dispatch(factory, settings, now=NOW, worker="bench", sender=sender, limit=count)
    seconds = time.perf_counter() - start
    if result.sent != count:
        raise RuntimeError(f"dispatch sent {result.sent} of {count}: {result}")
    return seconds


def split(count: int, parts: int) -> list[int]:
    """``count`` in ``parts`` nearly equal sizes."""
    return [count // parts + (1 if i < count % parts else 0) for i in range(parts)]


def run_interleaved(
    url: str, port: int, pool: int, count: int, message: tuple[bytes, str], segments: int
) -> tuple[list[tuple[float, float]], float, float]:
    """Ours and the ceiling in ``segments`` segments: for each, half of the ceiling's
    messages just before a pass of ours and half just after. Returns (ours seconds,
    ceiling seconds) per segment, and the CPU of this process per message (ms) of each."""
    settings = settings_for(url, port, pool)
    engine = make_engine(url)  # one engine, as a dispatcher process keeps its own
    factory = session_factory(engine)
    pairs = []
    ours_cpu = ceiling_cpu = 0.0
    for size in split(count, segments):
        marks = [os.times()]
        ceiling = run_ceiling(port, pool, size // 2, message)
        marks.append(os.times())
        ours = run_ours(factory, settings, pool, size)
        marks.append(os.times())
        ceiling += run_ceiling(port, pool, size - size // 2, message)
        marks.append(os.times())
        used = [t.user + t.system for t in marks]
        ours_cpu += used[2] - used[1]
        ceiling_cpu += used[1] - used[0] + used[3] - used[2]
        pairs.append((ours, ceiling))
    engine.dispose()
    return pairs, 1000 * ours_cpu / count, 1000 * ceiling_cpu / count


def wire_message(url: str, settings: Settings) -> tuple[bytes, str]:
    """One message of the outbox at ``url``, composed and flattened as ours sends it."""
    engine = make_engine(url)
    with session_factory(engine)() as session:
        row = session.scalars(select(OutboxMessage).limit(1)).one()
        data, recipient = wire_bytes(compose(row, settings, NOW)), row.recipient
    engine.dispose()
    return data, recipient


def run_ceiling(port: int, pool: int, count: int, message: tuple[bytes, str]) -> float:
    """The setup's own ceiling: P bare aiosmtplib connections sending one message, already
    flattened, ``count`` times in all, each taking the next as soon as it is free; with no
    database, no claiming, no composing and no recording. Timed like ours, from opening
    the connections to closing them."""
    data, recipient = message
    sender = load_settings({}).mail.from_address

    async def main() -> float:
        left = count

        async def one(client: aiosmtplib.SMTP) -> None:
            nonlocal left
            await client.connect()
            while left > 0:
                left -= 1
                await client.sendmail(sender, [recipient], data)
            await client.quit()

        start = time.perf_counter()
        await asyncio.gather(
            *(one(aiosmtplib.SMTP(hostname="127.0.0.1", port=port)) for _ in range(pool))
        )
        return time.perf_counter() - start

    return asyncio.run(main())


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
    default_pool = load_settings({}).smtp.pool_size
    pools = sorted({*pools, default_pool})
    # Segments of at least 500 messages, at most 5: each a ratio measured back to back.
    segments = max(1, min(5, count // 500))
    section = Section(
        "3. Dispatch",
        f"{count} pending outbox messages sent to an aiosmtpd relay in another process that "
        f"accepts each message after {int(DELAY * 1000)} ms. Ours: the dispatcher with a "
        "pool of P reused connections (claim, compose, send, record as sent); the bound is "
        "P / 20 ms. The ceiling of this setup: P bare aiosmtplib connections sending one "
        "message, flattened once, with no database. The messages are sent in "
        f"{segments} segment(s): in each, a pass of ours between two runs of the ceiling "
        "with half as many messages each, so that load from elsewhere hits both alike; "
        "ours / ceiling is the median over the segments of the ratio measured in each. "
        "The naive way: smtplib, one connection per message, "
        f"sequential ({naive_count} messages: its rate does not depend on the count); it "
        f"sits between ours, back to back. Rates are the best of {repeats}. The default "
        f"pool (smtp.pool_size in config/defaults.toml) is {default_pool}.",
    )
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
                    "of the ceiling",
                    "x naive",
                ],
                title=scratch.backend,
            )
            naive_rates: list[float] = []
            rounds = Rounds()  # one entry per segment
            totals: dict[str, list[float]] = {}  # seconds for all the messages, per repeat
            cpu: dict[str, list[float]] = {}  # CPU of this process per message, in ms
            for _ in range(repeats):
                for pool in pools:
                    url = scratch.fresh()
                    settings = settings_for(url, port, pool)
                    fill_outbox(url, count, settings)
                    message = wire_message(url, settings)
                    pairs, ours_cpu, bare_cpu = run_interleaved(
                        url, port, pool, count, message, segments
                    )
                    scratch.discard(url)
                    for ours, ceiling in pairs:
                        rounds.add(f"ours {pool}", ours)
                        rounds.add(f"ceiling {pool}", ceiling)
                    totals.setdefault(f"ours {pool}", []).append(sum(p[0] for p in pairs))
                    totals.setdefault(f"ceiling {pool}", []).append(sum(p[1] for p in pairs))
                    cpu.setdefault(f"ours {pool}", []).append(ours_cpu)
                    cpu.setdefault(f"ceiling {pool}", []).append(bare_cpu)
                    say(
                        f"    {scratch.backend} pool {pool}: "
                        f"{count / totals[f'ours {pool}'][-1]:.0f} messages/s "
                        f"(bare aiosmtplib: {count / totals[f'ceiling {pool}'][-1]:.0f})"
                    )
                url = scratch.fresh()
                fill_outbox(url, naive_count, settings_for(url, port, 1))
                naive_rates.append(naive_count / run_naive(url, port, naive_count))
                scratch.discard(url)
                say(f"    {scratch.backend} naive: {naive_rates[-1]:.1f} messages/s")
            naive = max(naive_rates)
            for pool in pools:
                rate = count / min(totals[f"ours {pool}"])
                alone = count / min(totals[f"ceiling {pool}"])
                share = rounds.speedup(f"ours {pool}", f"ceiling {pool}")
                bound = pool / DELAY
                table.rows.append(
                    [f"ours, pool of {pool}", str(count), fmt(count / rate), fmt(rate), fmt(bound),
                     f"{100 * rate / bound:.0f}%", f"{100 * share:.0f}%", f"{fmt(rate / naive)}x"]
                )  # fmt: skip
                table.rows.append(
                    [f"ceiling of this setup: {pool} bare aiosmtplib connections, no database",
                     str(count), fmt(count / alone), fmt(alone), fmt(bound),
                     f"{100 * alone / bound:.0f}%", "100%", f"{fmt(alone / naive)}x"]
                )  # fmt: skip
                spread = [
                    c / o
                    for o, c in zip(
                        rounds.seconds[f"ours {pool}"],
                        rounds.seconds[f"ceiling {pool}"],
                        strict=True,
                    )
                ]
                ours_cpu = min(cpu[f"ours {pool}"])
                bare_cpu = min(cpu[f"ceiling {pool}"])
                section.targets.append(
                    Target(
                        f"{scratch.backend} pool {pool}: ours / bare aiosmtplib",
                        100 * share,
                        95,
                        "%",
                        why_missed=(
                            f"the segments measured {100 * min(spread):.0f}-"
                            f"{100 * max(spread):.0f}%; ours spends {ours_cpu:.2f} ms of CPU "
                            "per message in this process (claiming, composing, recording, "
                            f"its tasks and threads) where bare aiosmtplib spends "
                            f"{bare_cpu:.2f} ms, on {os.cpu_count()} cores shared with the "
                            "relay, whose every command is parsed in Python: while this "
                            "process works, answers wait"
                        ),
                    )
                )
                if pool != default_pool:
                    continue
                section.targets.append(
                    Target(
                        f"{scratch.backend} default pool ({pool}): ours / naive",
                        rate / naive,
                        6.0,
                        why_missed=(
                            f"the bound itself is {fmt(bound / naive)}x the naive rate: a pool "
                            "of P connections cannot beat one sequential connection by more "
                            "than about P"
                        )
                        if bound / naive < 6
                        else (
                            f"bare aiosmtplib itself reaches only {fmt(alone / naive)}x the "
                            f"naive rate with {pool} connections: the relay answers each "
                            f"connection in {1000 * pool / alone:.0f} ms, not 20, while the "
                            f"naive way needs {1000 / naive:.0f} ms for a whole connection"
                        )
                        if alone / naive < 6
                        else f"ours reaches {100 * share:.0f}% of bare aiosmtplib",
                    )
                )
            table.rows.append(
                ["naive: smtplib, a connection per message", str(naive_count),
                 fmt(naive_count / naive), fmt(naive), fmt(1 / DELAY),
                 f"{100 * naive * DELAY:.0f}%", "", "1"]
            )  # fmt: skip
            section.tables.append(table)
            for target in section.targets[-(len(pools) + 1) :]:
                say(target.line())
    return section
