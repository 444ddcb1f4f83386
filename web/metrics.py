"""Prometheus metrics of the portal, the outbox and the scheduler (``GET /metrics``).

Two kinds:

- request latency, ``gnlc_http_request_duration_seconds{method,route,status}``, a
  histogram labelled by the route's template (``/applications/{app_id}``, never the
  raw path; a path no route matches counts as ``unmatched``). The portal runs several
  uvicorn worker processes, so ``gnlc serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a
  folder under the data folder (:func:`prepare_multiprocess`) before the workers start:
  each worker writes its observations there and any worker's scrape adds them up. With
  no such folder (one process, the tests) the histogram lives in this process.
- what the database says, computed at each scrape by :class:`DatabaseCollector`, so
  whichever worker answers tells the same: the outbox by status, the age of the oldest
  message not yet sent, the dead letters, and the last run of the sweep and the
  dispatcher (their heartbeats).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from config.paths import metrics_folder
from notifications.models import OutboxMessage
from notifications.outbox import Status
from workflow.models import Heartbeat
from workflow.scheduler import last_runs

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
#: The label of a request no route matched (scanners: one series, not one per path).
UNMATCHED = "unmatched"
#: Not yet sent: waiting for its first attempt, for a retry, or being sent.
UNSENT = (Status.PENDING, Status.FAILED, Status.SENDING)

REQUEST_SECONDS = Histogram(
    "gnlc_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status code.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=None,  # collected by each scrape's own registry (see ``scrape``)
)

#: What ``web.page_cache`` did with each page view.
PAGES = Counter(
    "gnlc_page_cache_requests_total",
    "Page views by what the page cache did: hit (sent again), miss (drawn and kept), "
    "pass (not for the cache).",
    ["outcome"],
    registry=None,  # collected by each scrape's own registry (see ``scrape``)
)


def multiprocess_mode() -> bool:
    """Whether this process writes its observations to ``PROMETHEUS_MULTIPROC_DIR``
    (decided by prometheus_client when it was first imported)."""
    return values.ValueClass is not values.MutexValue


def prepare_multiprocess(settings: Settings) -> Path:
    """An empty folder for the workers' metric files, named in this process's
    environment so the workers (started afterwards) inherit it. Files of an earlier run
    are removed: their counts belong to processes that are gone. Raises ``OSError``."""
    folder = metrics_folder(settings)
    if folder.is_dir():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    os.environ[MULTIPROCESS_VARIABLE] = str(folder)
    return folder


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time (one short read-only transaction)."""

    def __init__(self, reader: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.reader = reader
        self.clock = clock

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("gnlc_database_up", "1 when the database answered this scrape.")
        try:
            with self.reader() as session, session.begin():
                counts, oldest, runs = self._read(session)
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        by_status = GaugeMetricFamily(
            "gnlc_outbox_messages", "Outbox messages by status.", labels=["status"]
        )
        for status in Status.ALL:
            by_status.add_metric([status], counts.get(status, 0))
        yield by_status
        age = 0.0 if oldest is None else max((self.clock() - oldest).total_seconds(), 0.0)
        yield GaugeMetricFamily(
            "gnlc_outbox_oldest_pending_age_seconds",
            "Age of the oldest message not yet sent (pending, to retry or being sent); "
            "0 when there is none.",
            value=age,
        )
        yield GaugeMetricFamily(
            "gnlc_outbox_dead_letters",
            "Messages parked as dead: never delivered, waiting for an operator.",
            value=counts.get(Status.DEAD, 0),
        )
        for job in ("sweep", "dispatch"):
            beat = runs.get(job)
            yield GaugeMetricFamily(
                f"gnlc_{job}_last_run_timestamp_seconds",
                f"When the scheduler's {job} last ran (Unix time; 0: never on this database).",
                value=beat.at.timestamp() if beat is not None else 0.0,
            )
            yield GaugeMetricFamily(
                f"gnlc_{job}_last_duration_seconds",
                f"How long the scheduler's last {job} took.",
                value=beat.duration_seconds if beat is not None else 0.0,
            )
        detail = runs["dispatch"].detail if "dispatch" in runs else ""
        yield GaugeMetricFamily(
            "gnlc_dispatch_sender_down",
            "1 when the last dispatch found the sender down (Maildir not writable, SMTP "
            "server unreachable); its log and the messages' last error say why.",
            value=1 if _problem(detail) else 0,
        )

    @staticmethod
    def _read(
        session: Session,
    ) -> tuple[dict[str, int], datetime | None, dict[str, Heartbeat]]:
        m = OutboxMessage
        query = select(m.status, func.count()).group_by(m.status)
        counts: dict[str, int] = {status: count for status, count in session.execute(query)}
        oldest = session.scalar(select(func.min(m.created_at)).where(m.status.in_(UNSENT)))
        if oldest is not None and oldest.tzinfo is None:  # an aggregate skips the column type
            oldest = oldest.replace(tzinfo=UTC)
        return counts, oldest, last_runs(session)


def _problem(detail: str) -> str:
    try:
        parsed = json.loads(detail) if detail else {}
    except ValueError:
        return ""
    return str(parsed.get("problem", "")) if isinstance(parsed, dict) else ""


def scrape(reader: sessionmaker[Session], clock: Callable[[], datetime]) -> bytes:
    """The metrics in the Prometheus text format, as of now."""
    registry = CollectorRegistry()
    if multiprocess_mode():
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(REQUEST_SECONDS)
        registry.register(PAGES)
    registry.register(DatabaseCollector(reader, clock))
    return generate_latest(registry)
