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
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import String, Table, func, literal
from sqlalchemy import cast as cast_sql
from sqlalchemy.orm import Session

from notifications.models import OutboxMessage
from notifications.recipients import Addressing, Recipient
from workflow.db import dialect_insert_for

if TYPE_CHECKING:  # rendering (Jinja, Babel) loads when a message is rendered
    from notifications.render import Rendered


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


def message_key(subject_type: str, subject_id: int, occasion: str, rnd: str, address: str) -> str:
    return f"{subject_type}:{subject_id}:{occasion}:{rnd}:{address.lower()}"


def key_sql(subject_type: str, subject_id: Any, occasion: str, rnd: str, address: Any) -> Any:
    """:func:`message_key` as an SQL expression over columns ``subject_id`` and ``address``."""
    return (
        literal(f"{subject_type}:", String)
        + cast_sql(subject_id, String)
        + literal(f":{occasion}:{rnd}:", String)
        + func.lower(address)
    )


def new_message_id(from_address: str) -> str:
    domain = from_address.rpartition("@")[2] or "localhost"
    return f"<{uuid.uuid4().hex}@{domain}>"


def encode_context(context: dict[str, Any]) -> dict[str, Any]:
    """A template context as JSON: dates and instants tagged, recipients as mappings."""
    return {key: _encode(value) for key, value in context.items()}


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Recipient):
        return {"address": value.address, "name": value.name, "language": value.language}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def decode_context(data: dict[str, Any]) -> dict[str, Any]:
    return {key: _decode(value) for key, value in data.items()}


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if value.keys() == {"$datetime"}:
            return datetime.fromisoformat(value["$datetime"])
        if value.keys() == {"$date"}:
            return date.fromisoformat(value["$date"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


class Stored(Protocol):
    """What ``content`` reads of an outbox row (or a claimed copy of one)."""

    @property
    def occasion(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def body_text(self) -> str: ...
    @property
    def body_html(self) -> str: ...
    @property
    def context(self) -> dict[str, Any]: ...


def context_of(row: Stored) -> dict[str, Any]:
    """The whole stored context of a message: its round's common part, if it has one
    (``OutboxMessage.shared_context``, see ``notifications.models.OutboxShared``), with
    the row's own on top. A claimed copy carries it whole already."""
    shared = getattr(row, "shared_context", None)
    return {**shared, **row.context} if shared else row.context


def content(row: Stored) -> Rendered:
    """The message's subject and bodies: as stored, or rendered now from its context."""
    from notifications.render import Rendered, render

    if row.body_text:
        return Rendered(row.subject, row.body_text, row.body_html, row.language)
    return render(row.occasion, row.language, decode_context(context_of(row)))


def rows_for(
    owed: Owed, now: datetime, from_address: str, *, render_now: bool = True
) -> list[dict[str, Any]]:
    """The outbox rows of one occasion: one per distinct recipient.

    ``render_now=False`` stores the context instead of the text (the sweep's bulk
    reminders): the dispatcher renders it when it sends, in the language stored here.
    """
    from notifications.render import render, resolved_language

    to = [r.address for r in owed.addressing.to]
    cc = [r.address for r in owed.addressing.cc if r.address.lower() not in {a.lower() for a in to}]
    rows = []
    for recipient in owed.addressing.everyone:
        context = {**owed.context, "recipient": recipient}
        if render_now:
            rendered = render(owed.occasion, recipient.language, context)
            language, stored = rendered.language, {}
            subject, text, html = rendered.subject[:300], rendered.text, rendered.html
        else:
            language = resolved_language(owed.occasion, recipient.language)
            stored, subject, text, html = encode_context(context), "", "", ""
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
                "language": language,
                "subject": subject,
                "body_text": text,
                "body_html": html,
                "context": stored,
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
    # RETURNING tells which keys were new on both backends (psycopg reports no rowcount
    # for a skipped conflict); all rows go in one multi-row statement.
    connection = session.connection()
    return len(connection.execute(_insert_new(connection.dialect.name), list(rows)).fetchall())


@cache
def _insert_new(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (key) DO NOTHING RETURNING id, built once per database."""
    table = cast(Table, OutboxMessage.__table__)
    return (
        dialect_insert_for(dialect)(table)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(table.c.id)
    )


def enqueue(session: Session, owed: Iterable[Owed], *, now: datetime, from_address: str) -> int:
    """Write the outbox rows ``owed`` in the caller's transaction; return the new count."""
    rows = [row for o in owed for row in rows_for(o, now, from_address)]
    return insert_rows(session, rows)
