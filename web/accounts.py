"""Account services: sign-in with throttling, invitations, passwords, language, user lists.

Like the workflow services, each function takes the session and ``now``; the caller owns
the transaction. Authorisation is checked here, so pages and API get the same answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
from notifications.outbox import Owed
from notifications.recipients import Addressing, Recipient
from web.models import Invitation, LoginAttempt
from web.security import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    hash_token,
    new_token,
    verify_password,
)
from workflow.actors import Actor, require_role
from workflow.errors import InvalidInput, NotAllowed, NotFound, WorkflowError
from workflow.models import Country, User
from workflow.services.common import audit, flush, notify
from workflow.states import Role

MAX_FAILURES = 5
THROTTLE_WINDOW = timedelta(minutes=15)
INVITATION_VALID = timedelta(days=7)
UI_LANGUAGES = ("en", "fr")


class SignInFailed(WorkflowError):
    code = "sign_in_failed"
    status = 401

    def __init__(self) -> None:
        super().__init__("Wrong email or password. Check both and try again.")


class Throttled(WorkflowError):
    code = "too_many_attempts"
    status = 429

    def __init__(self, until: datetime) -> None:
        super().__init__(
            f"Too many failed sign-ins for this email. Try again after {until:%H:%M} UTC, "
            "or ask an administrator for a new invitation."
        )
        self.until = until


def _recent_failures(session: Session, email: str, now: datetime) -> list[datetime]:
    return list(
        session.scalars(
            select(LoginAttempt.at)
            .where(
                LoginAttempt.email == email,
                LoginAttempt.success.is_(False),
                LoginAttempt.at > now - THROTTLE_WINDOW,
            )
            .order_by(LoginAttempt.at)
        )
    )


def check_throttle(session: Session, email: str, now: datetime) -> None:
    failures = _recent_failures(session, email.strip().lower(), now)
    if len(failures) >= MAX_FAILURES:
        raise Throttled(failures[-MAX_FAILURES] + THROTTLE_WINDOW)


def authenticate(session: Session, email: str, password: str, *, now: datetime) -> User | None:
    """The user whose email and password match, or ``None``; every try is recorded.

    Returns ``None`` (rather than raising) so the caller commits the failed attempt.
    Raises :class:`Throttled` before checking the password when too many failed.
    """
    email = email.strip().lower()[:254]
    check_throttle(session, email, now)
    user = session.scalars(select(User).where(User.email == email)).first()
    ok = user is not None and user.active and verify_password(user.password_hash, password)
    session.add(LoginAttempt(email=email, at=now, success=ok))
    session.flush()
    return user if ok else None


def user_of_session(session: Session, user_id: int) -> User | None:
    user = session.get(User, user_id)
    return user if user is not None and user.active else None


def list_users(session: Session, actor: Actor) -> list[User]:
    require_role(actor, Role.ADMIN, doing="see the users")
    return list(session.scalars(select(User).order_by(User.role, User.email)))


def list_countries(session: Session, actor: Actor) -> list[Country]:
    """Countries and their Commissions (everyone signed in may read them)."""
    return list(session.scalars(select(Country).order_by(Country.code)))


def invite(
    session: Session, settings: Settings, actor: Actor, user_id: int, *, now: datetime
) -> str:
    """Email ``user_id`` a one-time link to set a password; return the link's token.

    Earlier unused invitations of the user stop working; the token is stored hashed.
    """
    require_role(actor, Role.ADMIN, doing="invite users")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    for old in session.scalars(
        select(Invitation).where(Invitation.user_id == user.id, Invitation.used_at.is_(None))
    ):
        old.used_at = now
    token = new_token()
    invitation = Invitation(
        user_id=user.id,
        token_hash=hash_token(token),
        expires_at=now + INVITATION_VALID,
        created_at=now,
        created_by=actor.user_id,
    )
    session.add(invitation)
    flush(session, "invitation", user.email)
    url = f"{settings.web.public_url.rstrip('/')}/invitation/{token}"
    notify(
        session,
        settings,
        [
            Owed(
                "user_invitation",
                "user",
                user.id,
                Addressing(to=(Recipient(user.email, user.name, user.language),)),
                {
                    "name": user.name,
                    "role": user.role,
                    "url": url,
                    "expires_at": invitation.expires_at,
                    "network": settings.network.name,
                },
                round=str(invitation.id),
            )
        ],
        now,
    )
    audit(
        session,
        actor,
        subject_type="user",
        subject_id=user.id,
        action="invite",
        now=now,
        comment=f"link valid until {invitation.expires_at:%Y-%m-%d %H:%M} UTC",
    )
    return token


def _invitation(session: Session, token: str, now: datetime) -> Invitation:
    found = session.scalars(
        select(Invitation).where(Invitation.token_hash == hash_token(token))
    ).first()
    if found is None or found.used_at is not None:
        raise InvalidInput(
            "This invitation link is not valid (already used or replaced). "
            "Ask an administrator for a new one."
        )
    if found.expires_at <= now:
        raise InvalidInput(
            f"This invitation expired on {found.expires_at:%Y-%m-%d %H:%M} UTC. "
            "Ask an administrator for a new one."
        )
    return found


def invited_user(session: Session, token: str, *, now: datetime) -> User:
    invitation = _invitation(session, token, now)
    user = session.get(User, invitation.user_id)
    if user is None or not user.active:
        raise NotAllowed("This account is disabled. Ask an administrator.")
    return user


def check_new_password(password: str, repeat: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password: use at least {MIN_PASSWORD_LENGTH} characters.")
    if password != repeat:
        raise InvalidInput("password: the two entries differ; type the same password twice.")


def accept_invitation(
    session: Session, token: str, password: str, repeat: str, *, now: datetime
) -> User:
    """The invitee sets a password; the link cannot be used again."""
    invitation = _invitation(session, token, now)
    check_new_password(password, repeat)
    user = invited_user(session, token, now=now)
    user.password_hash = hash_password(password)
    invitation.used_at = now
    session.flush()
    return user


def set_language(session: Session, user_id: int, language: str) -> None:
    if language not in UI_LANGUAGES:
        raise InvalidInput(f"language: choose one of {', '.join(UI_LANGUAGES)}.")
    user = session.get(User, user_id)
    if user is not None:
        user.language = language
        session.flush()
