"""How the sweep writes its mail to the outbox: only what is new, in bulk, unrendered.

A sweep may owe the same reminder to a hundred thousand members on one day. Its rows
store the template context instead of the text; the dispatcher renders each when it
sends it (``notifications.outbox.content``), in the language stored with the row. Rows
are inserted with ``INSERT ... ON CONFLICT DO NOTHING RETURNING key``: the database, not
the sweep, decides what is new, so concurrent sweeps enqueue each key once.
Used by :mod:`notifications.wiring` for the sweep's events and occasions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifications.models import OutboxMessage
from notifications.outbox import Owed, message_key, rows_for
from workflow.db import dialect_insert
from workflow.events import Planned

T = TypeVar("T")
CHUNK = 500
KEY_CHUNK = 5000
BATCH = 1000


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def owed_keys(owed: Owed) -> list[str]:
    return [
        message_key(owed.subject_type, owed.subject_id, owed.occasion, owed.round, r.address)
        for r in owed.addressing.everyone
    ]


def present_keys(session: Session, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for part in chunks(keys, KEY_CHUNK):
        found.update(session.scalars(select(OutboxMessage.key).where(OutboxMessage.key.in_(part))))
    return found


def insert_ignoring(
    session: Session,
    model: type[Any],
    rows: Sequence[dict[str, Any]],
    unique: list[str],
    returning: Any,
) -> list[Any]:
    """Multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: what was new."""
    if not rows:
        return []
    table = model.__table__
    stmt = (
        dialect_insert(session)(table)
        .on_conflict_do_nothing(index_elements=unique)
        .returning(returning)
    )
    found: list[Any] = []
    for part in chunks(rows):
        found.extend(session.execute(stmt, list(part)).scalars())
    return found


def enqueue(
    session: Session,
    owed: Iterable[Owed],
    *,
    now: datetime,
    from_address: str,
    errors: list[str],
    log: Any,
) -> list[Planned]:
    """Insert the occasions whose keys are not in the outbox yet.

    A batch at a time, so that a day with a hundred thousand reminders never holds them
    all in memory at once (nor makes the garbage collector walk them again and again).
    """
    planned: list[Planned] = []
    items = iter(owed)
    while batch := list(islice(items, BATCH)):
        candidates = [(o, owed_keys(o)) for o in batch]
        present = present_keys(session, [k for _, keys in candidates for k in keys])
        rows: list[dict[str, Any]] = []
        for item, keys in candidates:
            if all(k in present for k in keys):
                continue
            try:
                made = rows_for(item, now, from_address, render_now=False)
            except Exception as exc:  # one broken message (bad data) is skipped
                log.exception("cannot enqueue %s for %s", item.occasion, keys)
                errors.append(f"{item.occasion} {keys[0]}: {exc}")
                continue
            rows.extend(r for r in made if r["key"] not in present)
        inserted = set(insert_ignoring(session, OutboxMessage, rows, ["key"], OutboxMessage.key))
        planned.extend(
            Planned(
                r["occasion"], tuple(r["to_addrs"]), tuple(r["cc_addrs"]), r["language"], r["key"]
            )
            for r in rows
            if r["key"] in inserted
        )
    return planned
