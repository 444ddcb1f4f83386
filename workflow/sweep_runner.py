"""How the sweep runs its kinds of work: each in its own short transaction, and what it
reports. The rules themselves (what is due, what changes) are in :mod:`workflow.sweep`.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from workflow.db import transaction
from workflow.errors import Conflict
from workflow.events import Planned
from workflow.models import AuditEvent
from workflow.states import Role

log = logging.getLogger("gnlc.sweep")
T = TypeVar("T")
CHUNK = 500


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off for the duration (and back on after, if it was on).

    A kind of work may hold a hundred thousand small objects at once (the rows a bulk
    ``INSERT ... RETURNING`` gives back, one ``Planned`` per message). Each of them counts
    towards the collector's next run, and the runs it triggers walk every object the
    process holds, the libraries' too, again and again: at 100k reminders that took more
    time than building the objects did. The work makes no reference cycles worth
    collecting before it ends; memory freed by reference counting is freed as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class Step:
    """One state change of one record (in a dry run: one it would make), from the audit
    events the sweep writes."""

    subject_type: str
    subject_id: int
    action: str
    from_state: str | None
    to_state: str | None


@dataclass
class SweepReport:
    """What one sweep changed, counted per kind, and the messages it enqueued; a dry run
    also lists each state change it would make (``steps``)."""

    now: datetime
    dry_run: bool
    changes: dict[str, int] = field(default_factory=dict)
    messages: list[Planned] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    def count(self, kind: str, number: int) -> None:
        self.changes[kind] = self.changes.get(kind, 0) + number

    @property
    def enqueued(self) -> int:
        return len(self.messages)

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "changes": dict(self.changes),
            "messages": [
                {
                    "occasion": m.occasion,
                    "to": list(m.to),
                    "cc": list(m.cc),
                    "language": m.language,
                    "key": m.key,
                }
                for m in self.messages
            ],
            "errors": list(self.errors),
            "steps": [
                {
                    "subject_type": c.subject_type,
                    "subject_id": c.subject_id,
                    "action": c.action,
                    "from": c.from_state,
                    "to": c.to_state,
                }
                for c in self.steps
            ],
        }

    def summary(self) -> str:
        changed = ", ".join(f"{k} {v}" for k, v in sorted(self.changes.items()) if v) or "none"
        mode = "dry run: " if self.dry_run else ""
        return (
            f"{mode}sweep at {self.now.isoformat()}: changes: {changed}; "
            f"messages: {self.enqueued}; errors: {len(self.errors)}"
        )


class Units:
    """Runs each kind of work in its own transaction; in a dry run, in savepoints of one
    transaction that is rolled back at the end, so later kinds see earlier changes."""

    def __init__(self, factory: sessionmaker[Session], report: SweepReport) -> None:
        self.factory = factory
        self.report = report
        self.shared: Session | None = None
        self.last_event = 0

    def __enter__(self) -> Units:
        if self.report.dry_run:
            self.shared = self.factory()
            self.shared.begin()
            self.last_event = self.shared.scalar(select(func.max(AuditEvent.id))) or 0
        return self

    def __exit__(self, *_: object) -> None:
        if self.shared is not None:
            try:
                self._collect_steps(self.shared)
            finally:
                self.shared.rollback()
                self.shared.close()

    def _collect_steps(self, session: Session) -> None:
        """The state changes the dry run made in its transaction, before they are undone:
        the audit events after the last one there was, written by the scheduler now."""
        rows = session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.id > self.last_event,
                AuditEvent.role == Role.SYSTEM.value,
                AuditEvent.at == self.report.now,
            )
            .order_by(AuditEvent.id)
        )
        self.report.steps.extend(
            Step(e.subject_type, e.subject_id, e.action, e.from_state, e.to_state) for e in rows
        )

    def run(self, name: str, work: Callable[[Session], None]) -> None:
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                with collector_paused():
                    if self.shared is not None:
                        with self.shared.begin_nested():
                            work(self.shared)
                    else:
                        with transaction(self.factory) as session:
                            work(session)
                log.debug("sweep %s took %.3f s", name, time.perf_counter() - started)
                return
            except Conflict as exc:
                # Another process wrote the same row meanwhile: once more sees its result.
                if attempt == 1:
                    log.info("sweep %s: %s; trying again", name, exc)
                    continue
                self._failed(name, exc)
            except Exception as exc:  # a broken kind must not stop the others
                self._failed(name, exc)
                return

    def _failed(self, name: str, exc: Exception) -> None:
        log.exception("sweep %s failed: %s", name, exc)
        self.report.errors.append(f"{name}: {type(exc).__name__}: {exc}")
