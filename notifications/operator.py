"""The operator's outbox actions: find, list, retry and discard messages.

The caller owns the transaction. Sending is the dispatcher's (:mod:`notifications.dispatcher`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notifications.models import OutboxMessage
from notifications.outbox import Status
from workflow.actors import Actor, require_role
from workflow.errors import InvalidInput, NotFound
from workflow.states import Role


class NotPossibleNow(InvalidInput):
    """A retry or discard of a message in a status that does not allow it."""

    def __init__(self, why: str, message: OutboxMessage, english: str) -> None:
        super().__init__(english)
        self.why = why
        self.params = {"key": message.id}

    @property
    def reason(self) -> str:
        return f"{self.code}.{self.why}"


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
        raise InvalidInput(
            f"Unknown status {status!r}; use one of: {', '.join(Status.ALL)}.",
            "not_status",
            value=status,
        )
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    return list(session.scalars(query))


def retry(session: Session, ref: str | int, now: datetime) -> OutboxMessage:
    """Send a dead, failed or discarded message again at the next pass, attempts reset."""
    message = find_message(session, ref, lock=True)
    if message.status not in (Status.DEAD, Status.FAILED, Status.DISCARDED):
        raise NotPossibleNow(
            "outbox_not_retryable",
            message,
            f"Outbox message {message.id} is {message.status}; only dead, failed or "
            "discarded messages can be retried.",
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
        raise NotPossibleNow(
            "outbox_not_discardable",
            message,
            f"Outbox message {message.id} is {message.status}; only dead or failed "
            "messages can be discarded.",
        )
    message.status = Status.DISCARDED
    message.claimed_until = None
    session.flush()
    return message


# --- the portal's outbox page: the same actions, for an administrator -------------------

#: Statuses from which a message can be sent again, or given up on.
RETRYABLE = (Status.DEAD, Status.FAILED, Status.DISCARDED)
DISCARDABLE = (Status.DEAD, Status.FAILED)


def _operator(actor: Actor) -> None:
    require_role(actor, Role.ADMIN, doing="manage the outbox")


def status_counts(session: Session, actor: Actor) -> dict[str, int]:
    """How many messages are in each status (every status, 0 when none)."""
    _operator(actor)
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    found = {str(status): int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in Status.ALL}


def page_of_messages(
    session: Session, actor: Actor, status: str | None, *, offset: int = 0, limit: int = 50
) -> tuple[int, list[OutboxMessage]]:
    """Messages in ``status`` (or all), newest first: how many, and those from ``offset``."""
    _operator(actor)
    query = select(OutboxMessage)
    if status:
        if status not in Status.ALL:
            raise NotFound("outbox status", status)
        query = query.where(OutboxMessage.status == status)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(query.order_by(OutboxMessage.id.desc()).offset(offset).limit(limit))
    return total, list(rows)


def show_message(session: Session, actor: Actor, ref: str | int) -> OutboxMessage:
    _operator(actor)
    return find_message(session, ref)


def retry_many(
    session: Session, actor: Actor, refs: Iterable[str | int], now: datetime
) -> list[OutboxMessage]:
    """:func:`retry` each message, all or none (the caller's transaction)."""
    _operator(actor)
    return [retry(session, ref, now) for ref in _chosen(refs)]


def discard_many(session: Session, actor: Actor, refs: Iterable[str | int]) -> list[OutboxMessage]:
    """:func:`discard` each message, all or none (the caller's transaction)."""
    _operator(actor)
    return [discard(session, ref) for ref in _chosen(refs)]


class NoneChosen(InvalidInput):
    """A bulk action with no message ticked."""

    def __init__(self) -> None:
        super().__init__("Choose at least one message.")

    @property
    def reason(self) -> str:
        return "invalid_input.none_chosen"


def _chosen(refs: Iterable[str | int]) -> list[str | int]:
    chosen = list(dict.fromkeys(refs))
    if not chosen:
        raise NoneChosen()
    return chosen
