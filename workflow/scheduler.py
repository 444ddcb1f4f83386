"""The scheduler: two periodic jobs, the sweep and the dispatcher, on APScheduler 3.x.

Both jobs run once at start and then every ``scheduler.sweep_interval_seconds`` and
``scheduler.dispatch_interval_seconds``, from an in-memory job store (the scheduler
reconciles from the database; it has nothing of its own to remember). A job never runs
twice at once and missed runs are coalesced into one. ``run_until_stopped`` blocks until
SIGINT or SIGTERM, then shuts down waiting for a running job, so a message in flight is
recorded before the process exits. Used by ``run_scheduler.py``, ``gnlc scheduler`` and,
in the background, by ``gnlc serve``. The dispatcher is the installed handlers' delivery
(``workflow.events.deliver``; ``notifications.wiring.install`` wires it).

After each run a job writes its heartbeat (the ``heartbeats`` table: when it last ran,
how long it took, what it counted), which ``/readyz``, ``/metrics`` and ``gnlc doctor``
read. A run that fails logs one line and the next run tries again: a database or mail
fault an operator can fix is said in one line without a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from workflow import events
from workflow.db import dialect_insert, transaction
from workflow.events import Delivery
from workflow.faults import database_problem
from workflow.models import Heartbeat
from workflow.sweep import SweepReport, sweep

log = logging.getLogger("gnlc.scheduler")


@dataclass
class Clock:
    """The real clock, or ``--now`` moving forward at the real pace from start-up."""

    override: datetime | None = None
    _started: float = 0.0

    def __post_init__(self) -> None:
        self._started = time.monotonic()

    def now(self) -> datetime:
        if self.override is None:
            return datetime.now(UTC)
        return self.override.astimezone(UTC) + timedelta(seconds=time.monotonic() - self._started)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def sweep_detail(report: SweepReport) -> dict[str, Any]:
    """What a sweep's heartbeat keeps: its counts."""
    return {
        "enqueued": report.enqueued,
        "changes": sum(report.changes.values()),
        "errors": len(report.errors),
    }


def dispatch_detail(result: Delivery) -> dict[str, Any]:
    """What a dispatch pass's heartbeat keeps: its counts and the sender's problem."""
    return {
        "sent": result.sent,
        "retried": result.retried,
        "dead": result.dead,
        "waiting": result.waiting,
        "problem": result.problem,
    }


def beat(
    factory: sessionmaker[Session], name: str, duration: float, detail: Mapping[str, Any]
) -> None:
    """Record that the job ``name`` has just run (real time, whatever ``--now`` says)."""
    values = {
        "at": datetime.now(UTC),
        "duration_seconds": round(duration, 6),
        "detail": json.dumps(dict(detail), sort_keys=True),
    }
    with transaction(factory) as session:
        insert = dialect_insert(session)
        session.execute(
            insert(Heartbeat)
            .values(name=name, **values)
            .on_conflict_do_update(index_elements=[Heartbeat.name], set_=values)
        )


#: The jobs that write heartbeats.
JOBS = ("sweep", "dispatch")


def heartbeat_limit(settings: Settings, name: str) -> timedelta:
    """How old the last run of ``name`` may be while the scheduler is taken to be
    running: three of its intervals, and at least two minutes."""
    s = settings.scheduler
    interval = s.sweep_interval_seconds if name == "sweep" else s.dispatch_interval_seconds
    return timedelta(seconds=max(3 * interval, 120))


def last_runs(session: Session) -> dict[str, Heartbeat]:
    """The heartbeat of each job that has run on this database, by name."""
    return {h.name: h for h in session.scalars(select(Heartbeat))}


def log_failure(job: str, exc: Exception, settings: Settings) -> None:
    """One line for a fault an operator can fix, the whole traceback for anything else."""
    problem = database_problem(exc, settings.database.url)
    if problem is None:
        log.exception("%s failed", job)
    else:
        log.error("%s failed: %s", job, problem)


def _beat_quietly(
    factory: sessionmaker[Session],
    settings: Settings,
    name: str,
    started: float,
    detail: Mapping[str, Any],
) -> None:
    try:
        beat(factory, name, time.monotonic() - started, detail)
    except Exception as exc:  # the run itself went through; say why no heartbeat
        log_failure(f"{name} heartbeat", exc, settings)


def sweep_job(
    factory: sessionmaker[Session], settings: Settings, clock: Clock
) -> Callable[[], SweepReport | None]:
    def run() -> SweepReport | None:
        started = time.monotonic()
        try:
            # The sweep goes on past a failing step (and logs it in full): a database
            # that does not answer at all is said once, in one line, instead.
            with factory() as session:
                session.execute(text("SELECT 1"))
            report = sweep(factory, settings, now=clock.now())
        except Exception as exc:  # the next run tries again; the process stays up
            log_failure("sweep", exc, settings)
            return None
        _beat_quietly(factory, settings, "sweep", started, sweep_detail(report))
        return report

    return run


def dispatch_job(
    factory: sessionmaker[Session], settings: Settings, clock: Clock
) -> Callable[[], Delivery | None]:
    worker = worker_name()

    def run() -> Delivery | None:
        started = time.monotonic()
        try:
            # The dispatcher logs what it sent, and what is wrong when nothing can go out.
            result = events.deliver(factory, settings, now=clock.now(), worker=worker)
        except Exception as exc:
            log_failure("dispatch", exc, settings)
            return None
        _beat_quietly(factory, settings, "dispatch", started, dispatch_detail(result))
        return result

    return run


def build_scheduler(
    settings: Settings,
    factory: sessionmaker[Session],
    *,
    blocking: bool,
    now_override: datetime | None = None,
) -> BaseScheduler:
    """A scheduler with the sweep and dispatcher jobs; call ``start()`` on it."""
    clock = Clock(now_override)
    options = {
        "jobstores": {"default": MemoryJobStore()},
        "executors": {"default": ThreadPoolExecutor(max_workers=2)},
        "job_defaults": {
            "coalesce": True,
            "max_instances": 1,
            # A run delayed by a long one is still worth doing.
            "misfire_grace_time": None,
        },
        "timezone": UTC,
    }
    scheduler: BaseScheduler = (
        BlockingScheduler(**options) if blocking else BackgroundScheduler(**options)
    )
    start = datetime.now(UTC)
    scheduler.add_job(
        sweep_job(factory, settings, clock),
        "interval",
        seconds=settings.scheduler.sweep_interval_seconds,
        id="sweep",
        name="sweep",
        next_run_time=start,
    )
    scheduler.add_job(
        dispatch_job(factory, settings, clock),
        "interval",
        seconds=settings.scheduler.dispatch_interval_seconds,
        id="dispatch",
        name="dispatch",
        next_run_time=start,
    )
    log.info(
        "scheduler ready: sweep every %ss, dispatch every %ss%s",
        settings.scheduler.sweep_interval_seconds,
        settings.scheduler.dispatch_interval_seconds,
        f", clock starting at {now_override.isoformat()}" if now_override else "",
    )
    return scheduler


def run_once(
    factory: sessionmaker[Session], settings: Settings, *, now: datetime, dry_run: bool = False
) -> tuple[SweepReport, Delivery | None]:
    """One sweep and (unless a dry run) one dispatch pass: for cron and for tests.

    Both write their heartbeats (not a dry run). A database fault raises; a sender that
    is down shows as the result's ``problem``.
    """
    started = time.monotonic()
    report = sweep(factory, settings, now=now, dry_run=dry_run)
    if dry_run:
        return report, None
    beat(factory, "sweep", time.monotonic() - started, sweep_detail(report))
    started = time.monotonic()
    result = events.deliver(factory, settings, now=now, worker=worker_name())
    beat(factory, "dispatch", time.monotonic() - started, dispatch_detail(result))
    return report, result


def run_until_stopped(
    settings: Settings, factory: sessionmaker[Session], *, now_override: datetime | None = None
) -> None:
    """Run both jobs until SIGINT or SIGTERM; then wait for a running job to finish."""
    stop = threading.Event()

    def on_signal(number: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping after the running job", signal.Signals(number).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    scheduler = build_scheduler(settings, factory, blocking=False, now_override=now_override)
    try:
        scheduler.start()
        log.info("scheduler started (pid %d)", os.getpid())
        while not stop.wait(timeout=1.0):
            pass
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=True)
        for number, handler in previous.items():
            signal.signal(number, handler)
        log.info("scheduler stopped")
