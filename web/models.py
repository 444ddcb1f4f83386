"""Tables the portal adds: invitations, sign-in attempts and throttle, flash notes.

(Sessions belong to users and live beside them, in ``workflow.models.UserSession``.)

They share ``workflow.models.Base`` so Alembic sees them beside the domain's tables.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from workflow.models import Base


class Invitation(Base):
    """A one-time link to set a password. Only the token's SHA-256 is stored."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(Integer, default=None)


class LoginAttempt(Base):
    """One sign-in attempt; recent failures per email throttle further tries."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_email_at", "email", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    at: Mapped[datetime]
    success: Mapped[bool] = mapped_column(Boolean, default=False)


class SignInThrottle(Base):
    """Failed sign-ins counted per key (``account:<email>`` or ``client:<address>``).

    One row per key, changed with single atomic statements, so parallel attempts cannot
    all slip under the limit.
    """

    __tablename__ = "signin_throttle"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime]
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    #: Attempts reserved whose password check is still under way (web/signin.py), and
    #: when the last one was reserved (older ones than a few minutes are stale).
    pending: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pending_at: Mapped[datetime | None] = mapped_column(default=None)


class FlashNote(Base):
    """What a refused form leaves for the page it came from (Post-Redirect-Get).

    The browser holds a random token in a short-lived cookie; the row holds the refusal
    and the person's input, for ``path`` only, and is read once (see :mod:`web.flash`).
    Only the token's SHA-256 is stored.
    """

    __tablename__ = "flash_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The SHA-256 of the page's path (an address may hold a secret: a reset link).
    path: Mapped[str] = mapped_column(String(500))
    #: JSON: {"error": str | None, "values": {name: value}}
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)


class CalendarFeed(Base):
    """The secret address of a user's calendar feed (web/feeds.py): one per user.

    The token in the address is an HMAC of ``nonce`` under the portal's secret key, so
    the owner's pages can show it again; only its SHA-256 is stored and looked up, and a
    database alone gives no address away. Renewing draws a new nonce: the old address
    stops working at once.
    """

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    nonce: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    renewed_at: Mapped[datetime]
