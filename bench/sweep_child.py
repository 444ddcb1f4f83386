"""One measurement of benchmark 2 in a fresh process; prints one JSON line.

``python -m bench.sweep_child sweep URL NOW``: one sweep at NOW.
``python -m bench.sweep_child jobs URL NOW``: one APScheduler date job per due reminder in
a ``SQLAlchemyJobStore``, added and then run once each.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, configure_mappers, sessionmaker

from config import load_settings
from notifications import reminders as mail_reminders
from notifications.models import OutboxMessage
from notifications.outbox import Owed, insert_rows, rows_for
from workflow import reminders
from workflow.db import make_engine, session_factory, transaction

FACTORY: sessionmaker[Session] | None = None
SETTINGS = load_settings({})
NOW = datetime(2029, 1, 31, 10, 0, tzinfo=UTC)


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return 0.0


def rss_mb() -> float:
    return _status_mb("VmRSS")


def peak_mb() -> float:
    """This process's own peak resident memory: ``VmHWM`` starts again at exec, while
    ``ru_maxrss`` keeps the pages of the parent it was forked from (the benchmark, which
    grows as it runs) and so reported every later child as large as the parent."""
    found = _status_mb("VmHWM")
    return found or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def enqueued(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


def owed_reminders(session: Session) -> list[Owed]:
    """The reminders due at NOW, found the way the sweep finds them."""
    days = reminders.LocalDays(NOW, [])
    return list(mail_reminders.iter_report_reminders(session, SETTINGS, days))


def remind(owed: Owed) -> None:
    """The job of one reminder: insert its row (as the sweep does), in its own transaction."""
    assert FACTORY is not None
    with transaction(FACTORY) as session:
        insert_rows(session, rows_for(owed, NOW, SETTINGS.mail.from_address, render_now=False))


def ready(factory: sessionmaker[Session]) -> None:
    """Where both clocks start: connected to the database (the pool holds the
    connection), with the ORM's mappers configured. The peer got there by finding its
    reminders (:func:`owed_reminders`); the sweep, by this alone."""
    configure_mappers()
    with factory() as session:
        session.connection()


def run_sweep(url: str) -> dict[str, float]:
    from workflow.sweep import sweep

    factory = session_factory(make_engine(url))
    ready(factory)
    base = rss_mb()
    start = time.perf_counter()
    report = sweep(factory, SETTINGS.with_overrides(database={"url": url}), now=NOW)
    seconds = time.perf_counter() - start
    if report.errors:
        raise RuntimeError("; ".join(report.errors))
    return {
        "seconds": seconds,
        "enqueued": enqueued(factory),
        "peak_mb": peak_mb(),
        "base_mb": base,
    }


def run_jobs(url: str) -> dict[str, float]:
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    global FACTORY
    engine = make_engine(url)
    FACTORY = session_factory(engine)
    ready(FACTORY)
    with FACTORY() as session:
        # The reminders are found as the sweep finds them, before the clock starts.
        owed = owed_reminders(session)
    base = rss_mb()
    finished = threading.Event()
    ran: list[int] = []
    failed: list[str] = []

    def listener(event: JobExecutionEvent) -> None:
        ran.append(1)
        if event.exception is not None:
            failed.append(repr(event.exception))
        if len(ran) == len(owed):
            finished.set()

    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine)}, timezone=UTC
    )
    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start(paused=True)
    start = time.perf_counter()
    when = datetime.now(UTC)
    for item in owed:
        scheduler.add_job(
            remind,
            "date",
            run_date=when,
            args=[item],
            id=f"report-{item.subject_id}-{item.round}",
            misfire_grace_time=None,
        )
    added = time.perf_counter() - start
    scheduler.resume()
    if not finished.wait(timeout=3600):
        raise RuntimeError(f"only {len(ran)} of {len(owed)} jobs ran")
    seconds = time.perf_counter() - start
    scheduler.shutdown(wait=True)
    if failed:
        raise RuntimeError(f"{len(failed)} jobs failed, first: {failed[0]}")
    return {
        "seconds": seconds,
        "add_seconds": added,
        "enqueued": enqueued(FACTORY),
        "peak_mb": peak_mb(),
        "base_mb": base,
    }


def main(argv: list[str]) -> None:
    mode, url, now = argv
    if datetime.fromisoformat(now) != NOW:
        raise SystemExit(f"this child measures at {NOW.isoformat()} only")
    result = run_sweep(url) if mode == "sweep" else run_jobs(url)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
