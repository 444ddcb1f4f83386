"""Benchmark 2: one sweep over 1k, 10k and 100k members, against job-per-reminder.

Every member has one open report obligation due on 31 March 2029 and the sweep runs on
31 January 2029, when the d-60 reminder is due for all of them: one sweep enqueues one
reminder per member (and creates next year's calls). Each measurement runs in a fresh
process (``python -m bench.sweep_child``) so its peak RSS is the sweep's own; the world is
bulk-loaded beforehand (not measured).

The peer is what many would build: one APScheduler date job per reminder in a
``SQLAlchemyJobStore`` on the same database, each job inserting its reminder's outbox row
(unrendered, as the sweep writes it) in its own transaction; measured from the first
``add_job`` until every job has run once. Both clocks start in a process already
connected to the database with its ORM configured (``bench.sweep_child.ready``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bench.databases import Scratch
from bench.harness import Section, Table, Target, fmt, say
from bench.world import load_members, settle
from workflow.db import make_engine

NOW = datetime(2029, 1, 31, 10, 0, tzinfo=UTC)
RENDERING = (
    "the sweep writes each round of report reminders with one INSERT ... SELECT that builds "
    "the outbox rows (key, headers, Message-ID, each row's own part of the JSON context) in "
    "the database, in the order of their keys, with the round's common part of the context "
    "stored once (outbox_shared), and the dispatcher renders each message when it sends "
    "it; what remains per member is the database's own work. Storing the common part once "
    "(4 December, paired runs at 100k members): SQLite 1.48 s before, 1.27-1.30 s after; "
    "PostgreSQL 1.69-1.74 s before, 1.50-1.62 s after; at 10k on PostgreSQL 0.238-0.253 s "
    "before, 0.206-0.245 s after. Before it, at 100k members: on SQLite the INSERT took "
    "0.97-1.09 s and its COMMIT 0.28-0.29 s; on PostgreSQL the INSERT took 1.5-1.6 s "
    "(EXPLAIN ANALYZE: choosing and sorting the reports 0.28 s, building each row's text "
    "0.51 s, writing the rows and their four indexes 0.67 s with 142 MB of WAL). A small "
    "sweep's cost is mostly fixed: at 1,000 members the report reminders' INSERT takes 18 "
    "ms of PostgreSQL's 85-105 ms; the rest is the eleven other kinds of work, some 35 "
    "statements, each a round trip and each compiled for the first time in a fresh process"
)
DUE = date(2029, 3, 31)
REPORTS_FROM = date(2028, 12, 1)


@dataclass(frozen=True)
class Outcome:
    seconds: float
    enqueued: int
    peak_mb: float
    base_mb: float
    add_seconds: float = 0.0


def prepare(scratch: Scratch, members: int) -> str:
    url = scratch.fresh()
    engine = make_engine(url)
    load_members(
        engine, members, admitted=[2027, 2025, 2023], due_on=DUE, reports_from=REPORTS_FROM
    )
    settle(engine)
    engine.dispose()
    return url


def child(mode: str, url: str) -> Outcome:
    """Run ``bench.sweep_child`` in a fresh interpreter and read its JSON line."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.sweep_child", mode, url, NOW.isoformat()],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{mode} child failed:\n{done.stderr[-3000:]}")
    values = json.loads(done.stdout.strip().splitlines()[-1])
    return Outcome(**values)


def measure(scratch: Scratch, mode: str, members: int, repeats: int) -> Outcome:
    """The fastest of ``repeats`` runs, each on a fresh copy of the world."""
    best: Outcome | None = None
    for _ in range(repeats):
        url = prepare(scratch, members)
        try:
            outcome = child(mode, url)
        finally:
            scratch.discard(url)
        say(
            f"    {scratch.backend} {mode} {members:>7} members: {outcome.seconds:.3f} s, "
            f"{outcome.enqueued} enqueued, peak {outcome.peak_mb:.0f} MB"
        )
        if outcome.enqueued < members:
            raise RuntimeError(f"{mode}: {outcome.enqueued} reminders for {members} members")
        if best is None or outcome.seconds < best.seconds:
            best = outcome
    assert best is not None
    return best


def run(
    scratches: list[Scratch], *, sizes: list[int], peer_sizes: list[int], repeats: int
) -> Section:
    section = Section(
        "2. Sweep at scale",
        "One sweep on 31 January 2029 over N active members, each with an open report due "
        "31 March 2029, so the d-60 reminder is due for every member. Time and peak RSS "
        f"of a fresh process running the sweep (best of {repeats}; the RSS includes the "
        "interpreter and the libraries, shown apart as 'at start'). The peer adds one "
        "APScheduler date job per reminder to a SQLAlchemyJobStore on the same database "
        "and runs them (10 worker threads, the default), each inserting its reminder's outbox "
        "row (unrendered, as the sweep writes it) in its own transaction. Both clocks start "
        "once the process has connected to the database and configured its ORM; the peer "
        "has also found its reminders by then.",
    )
    for scratch in scratches:
        say(f"  benchmark 2 on {scratch.backend}: sizes {sizes}, job-per-reminder {peer_sizes}")
        ours = {n: measure(scratch, "sweep", n, repeats) for n in sizes}
        peer = {n: measure(scratch, "jobs", n, 1) for n in peer_sizes}
        table = Table(
            [
                "members",
                "sweep s",
                "µs/member",
                "peak RSS MB",
                "at start MB",
                "jobs s (add + run)",
                "sweep is x faster",
            ],
            title=scratch.backend,
        )
        per_member = {n: o.seconds / n for n, o in ours.items()}
        largest_peer = max(peer_sizes)
        for n, o in ours.items():
            if n in peer:
                running = peer[n].seconds - peer[n].add_seconds
                jobs = f"{fmt(peer[n].seconds)} ({fmt(peer[n].add_seconds)} + {fmt(running)})"
                ratio = f"{fmt(peer[n].seconds / o.seconds)}x"
            else:
                # Job-per-reminder costs a fixed amount per job: scale its largest run.
                estimate = peer[largest_peer].seconds * n / largest_peer
                jobs = f"~{fmt(estimate)} (extrapolated from {largest_peer:,})"
                ratio = f"~{fmt(estimate / o.seconds)}x"
            table.rows.append(
                [
                    f"{n:,}",
                    fmt(o.seconds),
                    fmt(1e6 * per_member[n]),
                    fmt(o.peak_mb),
                    fmt(o.base_mb),
                    jobs,
                    ratio,
                ]
            )
        section.tables.append(table)
        biggest = max(sizes)
        big = ours[biggest]
        # Both databases: the speed issue asks 100k members under 2 s and 200 MB on each.
        section.targets.append(
            Target(f"{scratch.backend}: sweep of {biggest:,} members", big.seconds, 2.0, " s",
                   at_most=True, why_missed=RENDERING)
        )  # fmt: skip
        section.targets.append(
            Target(f"{scratch.backend}: peak RSS at {biggest:,} members", big.peak_mb, 200,
                   " MB", at_most=True, why_missed="the rows returned by the INSERT (one short "
                   "tuple per message, for the sweep's report) are held until the end")
        )  # fmt: skip
        for n in sizes:
            reference = (
                peer[n].seconds if n in peer else peer[largest_peer].seconds * n / largest_peer
            )
            name = f"{scratch.backend}: job-per-reminder / sweep at {n:,}"
            section.targets.append(
                Target(name + ("" if n in peer else " (extrapolated)"), reference / ours[n].seconds,
                       100.0, why_missed="a job costs a few milliseconds (its own "
                       "transaction, pickling, the job store's INSERT and DELETE), so 100x "
                       "needs the sweep at a few tens of µs per member, which it reaches only "
                       "once its fixed cost is spread over many members; " + RENDERING)
            )  # fmt: skip
        smallest = min(sizes)
        growth = per_member[biggest] / per_member[smallest]
        section.targets.append(
            Target(
                f"{scratch.backend}: cost per member at {biggest:,} / at {smallest:,} "
                "(linear: about 1)",
                growth,
                1.5,
                at_most=True,
            )
        )
        for target in section.targets[-(len(sizes) + 3) :]:
            say(target.line())
    return section
