"""How the sweep writes its mail to the outbox: only what is new, rendered fast, in bulk.

A sweep may owe the same reminder to a hundred thousand members on one day. Rendering
each through Jinja2 would dominate the sweep, so reminders that differ only in plain
per-subject values (a city's name, a report's number and link) are rendered once per
group with placeholders, and each copy is made by substituting its values, exactly as
the templates would have written them (escaped in the HTML part, one line in the
subject). A value that might render differently (line breaks, a link inside a name) is
rendered the slow way. Rows are inserted with ``INSERT ... ON CONFLICT DO NOTHING
RETURNING key``: the database, not the sweep, decides what is new, so concurrent sweeps
enqueue each key once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, TypeVar

from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from notifications.outbox import Owed, Status, message_key, new_message_id
from notifications.recipients import Recipient
from notifications.render import Rendered, render
from workflow.models import OutboxMessage

T = TypeVar("T")
CHUNK = 500
KEY_CHUNK = 5000
BATCH = 1000
#: Context values that the scheduler's templates print only as plain ``{{ value }}``.
PLAIN = ("city", "name", "report_id", "application_id", "url")
_URL = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True)
class PlannedMessage:
    """A message the sweep enqueued (or, in a dry run, would enqueue)."""

    occasion: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    language: str
    key: str


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marker(name: str) -> str:
    # Letters only: unchanged by escaping, by folding to one line, and by the templates.
    return f"QQ{name.replace('_', 'Q').upper()}QQ"


def _placeholder(name: str) -> str:
    return f"https://placeholder.invalid/{_marker(name)}" if name == "url" else _marker(name)


#: One line, single spaces, no link and no placeholder inside: printed as it is.
_PLAIN_TEXT = re.compile(r"(?!.*(?:http|QQ))\S+(?: \S+)*", re.IGNORECASE | re.DOTALL)


def _plain(name: str, value: object) -> bool:
    """Would ``value`` come out of a template exactly as substituted?"""
    if isinstance(value, int) and not isinstance(value, bool):
        return True
    if not isinstance(value, str):
        return False
    pattern = _URL if name == "url" else _PLAIN_TEXT
    return pattern.fullmatch(value) is not None


class BatchRenderer:
    """Renders each (occasion, language, shared context) once; copies by substitution."""

    def __init__(self) -> None:
        self._cache: dict[Any, tuple[Rendered, dict[str, str]]] = {}
        self.rendered = 0

    def __call__(
        self, occasion: str, language: str, context: dict[str, Any], shared: Any = None
    ) -> Rendered:
        """``shared``, when given, stands for every context value outside ``PLAIN``
        (the caller knows what its copies share); else those values are compared."""
        varying = {k: v for k, v in context.items() if k in PLAIN}
        recipient = context.get("recipient")
        if isinstance(recipient, Recipient):
            varying["recipient.name"] = recipient.name
            varying["recipient.address"] = recipient.address
        if shared is None:
            shared = tuple(
                sorted((k, v) for k, v in context.items() if k not in PLAIN and k != "recipient")
            )
        try:
            group = (occasion, language, hash(shared), shared)
        except TypeError:  # a list in the context (a Commission's pending applications)
            return self._slow(occasion, language, context)
        if not all(_plain(k, v) for k, v in varying.items()):
            return self._slow(occasion, language, context)
        cached = self._cache.get(group)
        if cached is None:
            marks = {k: _placeholder(k) for k in varying}
            shown: dict[str, object] = {k: v for k, v in marks.items() if "." not in k}
            if isinstance(recipient, Recipient):
                shown["recipient"] = Recipient(
                    marks["recipient.address"], marks["recipient.name"], recipient.language
                )
            cached = (self._slow(occasion, language, {**context, **shown}), marks)
            self._cache[group] = cached
        model, marks = cached
        subject, text, html = model.subject, model.text, model.html
        for name, mark in marks.items():
            value = str(varying[name])
            subject = subject.replace(mark, value)
            text = text.replace(mark, value)
            html = html.replace(mark, str(escape(value)))
        return Rendered(subject=subject, text=text, html=html, language=model.language)

    def _slow(self, occasion: str, language: str, context: dict[str, Any]) -> Rendered:
        self.rendered += 1
        return render(occasion, language, context)


def owed_keys(owed: Owed) -> list[str]:
    return [
        message_key(owed.subject_type, owed.subject_id, owed.occasion, owed.round, r.address)
        for r in owed.addressing.everyone
    ]


def rows_for(
    owed: Owed, now: datetime, from_address: str, renderer: BatchRenderer
) -> list[dict[str, Any]]:
    """The outbox rows of one occasion, one per recipient, as ``notifications.outbox``
    writes them (its ``rows_for``), rendered through ``renderer``."""
    to = [r.address for r in owed.addressing.to]
    lowered = {a.lower() for a in to}
    cc = [r.address for r in owed.addressing.cc if r.address.lower() not in lowered]
    rows = []
    for recipient in owed.addressing.everyone:
        rendered = renderer(
            owed.occasion,
            recipient.language,
            {**owed.context, "recipient": recipient},
            owed.extra.get("shared"),
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
    dialect = session.get_bind().dialect.name
    maker: Any = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = maker(table).on_conflict_do_nothing(index_elements=unique).returning(returning)
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
) -> list[PlannedMessage]:
    """Render and insert the occasions whose keys are not in the outbox yet.

    A batch at a time, so that a day with a hundred thousand reminders never holds them
    all in memory at once (nor makes the garbage collector walk them again and again).
    """
    renderer = BatchRenderer()
    planned: list[PlannedMessage] = []
    items = iter(owed)
    while batch := list(islice(items, BATCH)):
        candidates = [(o, owed_keys(o)) for o in batch]
        present = present_keys(session, [k for _, keys in candidates for k in keys])
        rows: list[dict[str, Any]] = []
        for item, keys in candidates:
            if all(k in present for k in keys):
                continue
            try:
                made = rows_for(item, now, from_address, renderer)
            except Exception as exc:  # one broken message (a template, bad data) is skipped
                log.exception("cannot render %s for %s", item.occasion, keys)
                errors.append(f"{item.occasion} {keys[0]}: {exc}")
                continue
            rows.extend(r for r in made if r["key"] not in present)
        inserted = set(insert_ignoring(session, OutboxMessage, rows, ["key"], OutboxMessage.key))
        planned.extend(
            PlannedMessage(
                r["occasion"], tuple(r["to_addrs"]), tuple(r["cc_addrs"]), r["language"], r["key"]
            )
            for r in rows
            if r["key"] in inserted
        )
    return planned
