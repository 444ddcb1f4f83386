"""The scheduler: two periodic jobs, the sweep and the dispatcher, on APScheduler 3.x.

Both jobs run once at start and then every ``scheduler.sweep_interval_seconds`` and
``scheduler.dispatch_interval_seconds``, from an in-memory job store (the scheduler
reconciles from the database; it has nothing of its own to remember). A job never runs
twice at once and missed runs are coalesced into one. ``run_until_stopped`` blocks until
SIGINT or SIGTERM, then shuts down waiting for a running job, so a message in flight is
recorded before the process exits. Used by ``run_scheduler.py``, ``gnlc scheduler`` and,
in the background, by ``gnlc serve``.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from notifications.dispatcher import DispatchResult, dispatch
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


def sweep_job(
    factory: sessionmaker[Session], settings: Settings, clock: Clock
) -> Callable[[], SweepReport | None]:
    def run() -> SweepReport | None:
        try:
            return sweep(factory, settings, now=clock.now())
        except Exception:  # the next run tries again; the process stays up
            log.exception("sweep failed")
            return None

    return run


def dispatch_job(
    factory: sessionmaker[Session], settings: Settings, clock: Clock
) -> Callable[[], DispatchResult | None]:
    worker = worker_name()

    def run() -> DispatchResult | None:
        try:
            # The dispatcher logs what it sent.
            return dispatch(factory, settings, now=clock.now(), worker=worker)
        except Exception:
            log.exception("dispatch failed")
            return None

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
) -> tuple[SweepReport, DispatchResult | None]:
    """One sweep and (unless a dry run) one dispatch pass: for cron and for tests."""
    report = sweep(factory, settings, now=now, dry_run=dry_run)
    if dry_run:
        return report, None
    return report, dispatch(factory, settings, now=now, worker=worker_name())


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
