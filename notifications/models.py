"""The outbox table: one email owed to one recipient (the mail side's own model).

It shares ``workflow.models.Base`` so Alembic's metadata (``migrations/env.py``) and the
database helpers see it beside the domain's tables; the domain never imports it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from workflow.models import Base


class OutboxMessage(Base):
    """One email owed to one recipient, written in the same transaction as its cause.

    Rendered either at enqueue (subject and bodies filled in) or, for the sweep's bulk
    reminders, at sending time from ``context``; ``notifications.outbox.content`` gives
    the text either way.

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
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
