"""The transactional outbox: messages are rows written in the caller's transaction.

A message is owed to one recipient for one occasion of one subject; its ``key``
(subject, occasion, round, recipient) is unique, and a second enqueue of the same key is
silently skipped by the database (``ON CONFLICT DO NOTHING``), even from another process.
Each recipient gets their own copy, rendered in their language; the headers still show
the occasion's full To and Cc.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from notifications.recipients import Addressing
from notifications.render import render
from workflow.models import OutboxMessage


class Status:
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # a transient failure; retried at next_attempt_at
    DEAD = "dead"  # permanent failure or too many attempts; an operator decides
    DISCARDED = "discarded"  # an operator gave up on a dead message; never sent
    ALL = (PENDING, SENDING, SENT, FAILED, DEAD, DISCARDED)


@dataclass(frozen=True)
class Owed:
    """One occasion owed to an addressing; ``round`` tells repeated occasions apart."""

    occasion: str
    subject_type: str
    subject_id: int
    addressing: Addressing
    context: dict[str, Any]
    round: str = "1"
    extra: dict[str, Any] = field(default_factory=dict)


def message_key(subject_type: str, subject_id: int, occasion: str, rnd: str, address: str) -> str:
    return f"{subject_type}:{subject_id}:{occasion}:{rnd}:{address.lower()}"


def new_message_id(from_address: str) -> str:
    domain = from_address.rpartition("@")[2] or "localhost"
    return f"<{uuid.uuid4().hex}@{domain}>"


def rows_for(owed: Owed, now: datetime, from_address: str) -> list[dict[str, Any]]:
    """The outbox rows of one occasion: one per distinct recipient."""
    to = [r.address for r in owed.addressing.to]
    cc = [r.address for r in owed.addressing.cc if r.address.lower() not in {a.lower() for a in to}]
    rows = []
    for recipient in owed.addressing.everyone:
        rendered = render(
            owed.occasion, recipient.language, {**owed.context, "recipient": recipient}
        )
        rows.append(
            {
                "key": message_key(
                    owed.subject_type, owed.subject_id, owed.occasion, owed.round, recipient.address
                ),
                "occasion": owed.occasion,
                "subject_type": owed.subject_type,
                "subject_id": owed.subject_id,
                "recipient": recipient.address,
                "to_addrs": to,
                "cc_addrs": cc,
                "language": rendered.language,
                "subject": rendered.subject[:300],
                "body_text": rendered.text,
                "body_html": rendered.html,
                "message_id": new_message_id(from_address),
                "status": Status.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": "",
                "created_at": now,
            }
        )
    return rows


def insert_rows(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert outbox rows, skipping keys already present; return how many were new."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    # A Core insert on the table, with each row as parameters: one compiled statement
    # reused (``.values(**row)`` built and compiled a new statement per row, ten times
    # slower), and a result that still has its rowcount.
    table = cast(Table, OutboxMessage.__table__)
    if dialect == "postgresql":
        stmt: Any = pg_insert(table).on_conflict_do_nothing(index_elements=["key"])
    elif dialect == "sqlite":
        stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=["key"])
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        stmt = insert(table)
    total = 0
    for row in rows:
        # One statement a row: rowcount tells whether the key was new.
        result = session.execute(stmt, row)
        total += max(result.rowcount, 0)  # type: ignore[attr-defined]
    return total


def enqueue(session: Session, owed: Iterable[Owed], *, now: datetime, from_address: str) -> int:
    """Write the outbox rows ``owed`` in the caller's transaction; return the new count."""
    rows = [row for o in owed for row in rows_for(o, now, from_address)]
    return insert_rows(session, rows)
