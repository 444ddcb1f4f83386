"""Tables the portal adds: invitations, sign-in attempts and throttle, sessions, uploads.

They share ``workflow.models.Base`` so Alembic sees them beside the domain's tables.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
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


class UserSession(Base):
    """A sign-in that the server can end: a browser session or an API token.

    Only the SHA-256 of the random token is stored. A session is valid while it is not
    revoked, has been used within the idle lifetime and is before ``expires_at``.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: "browser" (the cookie) or "api" (a bearer token).
    kind: Mapped[str] = mapped_column(String(8))
    label: Mapped[str] = mapped_column(String(100), default="")
    client: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


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


class UploadedFile(Base):
    """A signed application form (PDF) kept on disk under the uploads folder."""

    __tablename__ = "uploaded_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    stored_name: Mapped[str] = mapped_column(String(100), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]
    uploaded_by: Mapped[int | None] = mapped_column(Integer, default=None)
    #: When a newer upload replaced this one (None: the current file).
    replaced_at: Mapped[datetime | None] = mapped_column(default=None)
