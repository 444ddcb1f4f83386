"""The operator's outbox actions: find, list, retry and discard messages.

The caller owns the transaction. Sending is the dispatcher's (:mod:`notifications.dispatcher`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifications.models import OutboxMessage
from notifications.outbox import Status
from workflow.errors import InvalidInput, NotFound


def find_message(session: Session, ref: str | int, *, lock: bool = False) -> OutboxMessage:
    """A message by its number or its Message-ID (with or without the angle brackets)."""
    m = OutboxMessage
    text = str(ref).strip()
    if text.isdigit():
        query = select(m).where(m.id == int(text))
    else:
        wanted = text if text.startswith("<") else f"<{text}>"
        query = select(m).where(m.message_id == wanted)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    found = session.scalars(query).first()
    if found is None:
        raise NotFound("outbox message", ref)
    return found


def list_messages(
    session: Session, status: str | None = None, limit: int = 50
) -> list[OutboxMessage]:
    """The newest messages first, optionally only those in ``status``."""
    if status is not None and status not in Status.ALL:
        raise InvalidInput(f"Unknown status {status!r}; use one of: {', '.join(Status.ALL)}.")
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    return list(session.scalars(query))


def retry(session: Session, ref: str | int, now: datetime) -> OutboxMessage:
    """Send a dead, failed or discarded message again at the next pass, attempts reset."""
    message = find_message(session, ref, lock=True)
    if message.status not in (Status.DEAD, Status.FAILED, Status.DISCARDED):
        raise InvalidInput(
            f"Outbox message {message.id} is {message.status}; only dead, failed or "
            "discarded messages can be retried."
        )
    message.status = Status.PENDING
    message.attempts = 0
    message.next_attempt_at = now
    message.claimed_until = None
    session.flush()
    return message


def discard(session: Session, ref: str | int) -> OutboxMessage:
    """Give up on a dead (or failed) message for good; ``retry`` can still revive it."""
    message = find_message(session, ref, lock=True)
    if message.status not in (Status.DEAD, Status.FAILED):
        raise InvalidInput(
            f"Outbox message {message.id} is {message.status}; only dead or failed "
            "messages can be discarded."
        )
    message.status = Status.DISCARDED
    message.claimed_until = None
    session.flush()
    return message
