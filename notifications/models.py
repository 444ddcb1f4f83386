"""The outbox table: one email owed to one recipient (the mail side's own model).

It shares ``workflow.models.Base`` so Alembic's metadata (``migrations/env.py``) and the
database helpers see it beside the domain's tables; the domain never imports it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, column_property, mapped_column

from workflow.models import Base


class OutboxShared(Base):
    """What every message of one round of the sweep's reminders says alike (the due date,
    the days left, the network's names), stored once for the round instead of in each of
    its rows: ``OutboxMessage.shared_id`` names it, and the message's context is this
    one with the row's own on top (``notifications.outbox.context_of``).

    No foreign key points here: checking one for each of a hundred thousand rows written
    at once would cost the sweep what storing the context once saves. Rows are only ever
    added (one per round), never changed or removed while a message names them.
    """

    __tablename__ = "outbox_shared"

    id: Mapped[int] = mapped_column(primary_key=True)
    context: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime]


class OutboxMessage(Base):
    """One email owed to one recipient, written in the same transaction as its cause.

    Rendered either at enqueue (subject and bodies filled in) or, for the sweep's bulk
    reminders, at sending time from ``context`` and its round's :class:`OutboxShared`;
    ``notifications.outbox.content`` gives the text either way.

    ``key`` (subject, occasion, recipient) is unique: enqueueing the same occasion twice
    writes nothing the second time. ``message_id`` is fixed here, so a message re-sent
    after a crash carries the same Message-ID.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    occasion: Mapped[str] = mapped_column(String(60))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int] = mapped_column(Integer)
    recipient: Mapped[str] = mapped_column(String(254))
    to_addrs: Mapped[list[str]] = mapped_column()
    cc_addrs: Mapped[list[str]] = mapped_column()
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # What the templates need, when the text is rendered at sending time (the sweep's bulk
    # reminders); empty when subject and bodies were rendered at enqueue.
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The round's common part of the context (:class:`OutboxShared`), if it has one; read
    # with the row, so that a page showing the message renders it without a query more.
    shared_id: Mapped[int | None] = mapped_column(Integer, default=None)
    shared_context: Mapped[dict[str, Any] | None] = column_property(
        select(OutboxShared.context).where(OutboxShared.id == shared_id).scalar_subquery()
    )
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
