"""Benchmark 1: workflow throughput of our services against the limit and two peers.

N applications walk submit -> endorse -> start_review -> admit, one transaction per
action (4N transactions). Each variant has its own fresh database with the same
bulk-loaded world. The applications are cut into chunks and the variants take turns,
chunk by chunk, so a load that comes and goes on the machine hits every variant alike;
a ratio is the median over the chunks. Speeds are actions (transactions) per second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy.engine import default as sa_default

from bench import (
    breakdown,
    throughput_core,
    throughput_limit,
    throughput_naive,
    throughput_spiff,
)
from bench.databases import Scratch
from bench.harness import Rounds, Section, Table, Target, fmt, say
from bench.route import ANNOUNCED, ROUTE, actor, bench_settings, row_counts
from bench.world import Applicants, load_applicants
from notifications import outbox
from workflow.db import make_engine, session_factory, transaction
from workflow.services import announcements, decisions, memberships, submissions, transit
from workflow.services.common import publish


class Walker(Protocol):
    def walk(self, chunk: list[tuple[int, int, str]]) -> None: ...
    def close(self) -> None: ...


class Ours:
    """Our services, each action in :func:`workflow.db.transaction`."""

    def __init__(self, url: str, applicants: Applicants) -> None:
        self.settings = bench_settings(url)
        self.engine = make_engine(url)
        self.factory = session_factory(self.engine)

    def walk(self, chunk: list[tuple[int, int, str]]) -> None:
        for step in ROUTE:
            for app_id, city_id, country in chunk:
                who = actor(step, city_id, country)
                with transaction(self.factory) as session:
                    if step.trigger == "submit":
                        submissions.submit(session, self.settings, who, app_id, now=step.at)
                    elif step.trigger == "endorse":
                        submissions.endorse(session, self.settings, who, app_id, now=step.at)
                    else:
                        decisions.decide(
                            session, self.settings, who, app_id, step.trigger, now=step.at
                        )
                        if step.trigger in ANNOUNCED:  # announced at once, as a publication
                            announcements.tell_decision(
                                session, self.settings, who, app_id, now=step.at,
                                on=step.at.date(),
                            )  # fmt: skip
                            publish(session, self.settings)

    def close(self) -> None:
        self.engine.dispose()


VARIANTS: dict[str, Callable[[str, Applicants], Walker]] = {
    "ours": Ours,
    "limit": throughput_limit.Limit,
    "core": throughput_core.CoreFloor,
    "spiff": throughput_spiff.Spiff,
    "naive": throughput_naive.Naive,
}
LABELS = {
    "ours": "ours: services (transitions table, Core statements, Jinja outbox)",
    "limit": "limit: raw driver, pre-rendered text",
    "core": "Core floor: the same statements through SQLAlchemy Core, no rule, pre-rendered",
    "spiff": "SpiffWorkflow 3: BPMN user tasks, JSON column",
    "naive": "naive: Machine per row, plain ORM objects",
}
#: The parts of the instrumented run a missed target names, by their labels' first word.
PARTS = {"commit": "COMMIT", "render": "render", "membership": "membership", "read": "read"}
TARGETS = {"limit": 0.5, "spiff": 3.0, "naive": 2.0}


def why(name: str, rounds: Rounds, parts: dict[str, float]) -> str:
    """Why ours misses the target against ``name``, from this run's figures (``parts``:
    ms per action of the instrumented run)."""
    floor = rounds.speedup("core", "limit") if "core" in rounds.seconds else None
    where = (
        f"of ours' {fmt(parts['whole'])} ms per action in the instrumented run, the COMMIT "
        f"takes {fmt(parts['commit'])}, rendering the messages {fmt(parts['render'])}, the "
        f"membership on admission (still through the ORM) {fmt(parts['membership'])} and "
        f"the narrow read {fmt(parts['read'])}; the rest is the rules' own reads (the signed "
        "form, the quota, the jury, the decision's comment) and SQLAlchemy's cost per "
        "statement"
    )
    if floor is None:
        return where
    bound = (
        f"The Core floor (the limit's statements and the narrow read through SQLAlchemy "
        f"Core, no rule, nothing rendered) reaches {fmt(floor)}x the limit in this run"
    )
    if name == "limit":
        return (
            f"{bound}: through SQLAlchemy Core the statements alone cost {fmt(1 / floor)}x "
            f"what the raw driver does, before any rule or message; {where}. "
            + (
                "Closing it needs the hot statements on the driver's cursor"
                if floor < 0.5
                else "The statements leave room for 0.5x: the rules and the mail must fit in it"
            )
        )
    return (
        f"{where}. SpiffWorkflow and the naive way pay the same commit, rendering and outbox "
        f"rows, so ours is faster only by what their ORM and engines add. {bound}"
    )


def measure(
    scratch: Scratch, count: int, chunk: int, names: list[str]
) -> tuple[Rounds, dict[str, str]]:
    """Seconds per variant and chunk, and what each variant left in its database."""
    urls: dict[str, str] = {}
    walkers: dict[str, Walker] = {}
    applicants: Applicants | None = None
    for name in names:
        urls[name] = scratch.fresh()
        engine = make_engine(urls[name])
        applicants = load_applicants(engine, count)
        engine.dispose()
        walkers[name] = VARIANTS[name](urls[name], applicants)
    assert applicants is not None
    result = Rounds()
    todo = applicants.applications
    for number, first in enumerate(range(0, len(todo), chunk), start=1):
        part = todo[first : first + chunk]
        # Alternate the order so no variant always runs right after the same one.
        order = names if number % 2 else list(reversed(names))
        for name in order:
            start = time.perf_counter()
            walkers[name].walk(part)
            result.add(name, time.perf_counter() - start)
        say(
            f"    {scratch.backend} chunk {number}: "
            + ", ".join(f"{n} {1000 * result.seconds[n][-1] / (4 * len(part)):.2f}" for n in names)
            + " ms/action"
        )
    counts = {}
    for name in names:
        walkers[name].close()
        engine = make_engine(urls[name])
        counts[name] = str(row_counts(engine))
        engine.dispose()
        scratch.discard(urls[name])
    return result, counts


def where_ours_goes(scratch: Scratch, count: int) -> tuple[float, dict[str, float]]:
    """One instrumented run of ours: seconds per action, and seconds per part."""
    url = scratch.fresh()
    engine = make_engine(url)
    applicants = load_applicants(engine, count)
    engine.dispose()
    ours = Ours(url, applicants)
    targets: list[tuple[Any, str, str]] = [
        (transit, "read_application", "read the application, its call, city, country (Core)"),
        (transit, "fire", "the transition: UPDATE, audit INSERT, event (Core; with its mail)"),
        (transit, "publish", "its mail: recipients, rendering, outbox INSERT (inside the above)"),
        (outbox, "rows_for", "render the messages (Jinja text + HTML layout)"),
        (outbox, "insert_rows", "insert the outbox rows"),
        (submissions, "_claim_quota", "quota check on endorse (COUNT)"),
        (memberships, "admit", "membership on admission (ORM: SELECT, INSERT, audit, reports)"),
        (sa_default.DefaultDialect, "do_commit", "COMMIT (fsync on SQLite)"),
    ]
    with breakdown.timed(targets) as totals:
        start = time.perf_counter()
        ours.walk(applicants.applications)
        elapsed = time.perf_counter() - start
    ours.close()
    scratch.discard(url)
    return elapsed, totals


def run(
    scratches: list[Scratch], *, count: int, chunk: int, names: list[str] | None = None
) -> Section:
    names = names or list(VARIANTS)
    section = Section(
        "1. Workflow throughput",
        f"{count} applications through submit, endorse, start_review and admit: "
        f"{4 * count} transactions, each writing the state with its version check, the "
        "audit event and the outbox rows (per application: 7 messages, 6 audit events and "
        "the membership). Each variant has its own database; the variants take turns in "
        f"chunks of {chunk} applications, and a ratio is the median of the per-chunk "
        "ratios. SpiffWorkflow and the naive way render the same messages with the same "
        "templates and write the same rows as ours; the limit copies text rendered once "
        "and only writes (the rows left are counted after each run). The Core floor runs the "
        "limit's statements, and the narrow read a transition needs, through SQLAlchemy Core.",
    )
    for scratch in scratches:
        say(f"  benchmark 1 on {scratch.backend}: {count} applications, chunks of {chunk}")
        rounds, counts = measure(scratch, count, chunk, names)
        table = Table(
            ["variant", "total s", "actions/s", "ms/action", "ours is x faster", "rows left"],
            title=scratch.backend,
        )
        for name in names:
            total = sum(rounds.seconds[name])
            ratio = "" if name == "ours" else f"{fmt(rounds.speedup('ours', name))}x"
            table.rows.append(
                [
                    LABELS[name],
                    fmt(total),
                    fmt(4 * count / total),
                    fmt(1000 * total / (4 * count)),
                    ratio,
                    counts[name],
                ]
            )
        section.tables.append(table)
        measured: list[tuple[str, float, float]] = []
        for name, wanted in TARGETS.items():
            if name in names:
                speedup = rounds.speedup("ours", name)
                measured.append((name, speedup, wanted))
        elapsed, totals = where_ours_goes(scratch, min(count, 200))
        actions = 4 * min(count, 200)

        per_action = {"whole": 1000 * elapsed / actions} | {
            key: 1000 * sum(v for k, v in totals.items() if k.startswith(prefix)) / actions
            for key, prefix in PARTS.items()
        }
        for name, speedup, wanted in measured:
            target = Target(
                f"{scratch.backend}: ours / {name} speed",
                speedup,
                wanted,
                why_missed=why(name, rounds, per_action),
            )
            section.targets.append(target)
            say(target.line())
        parts = Table(
            ["part of an action (ours)", "ms/action", "share"],
            title=f"{scratch.backend}: where the time of ours goes (one instrumented run)",
        )
        for label, seconds in sorted(totals.items(), key=lambda item: -item[1]):
            parts.rows.append(
                [label, fmt(1000 * seconds / actions), f"{100 * seconds / elapsed:.0f}%"]
            )
        parts.rows.append(["whole action", fmt(1000 * elapsed / actions), "100%"])
        section.tables.append(parts)
    return section
