"""Account services: invitations, password rules, language, user lists, and the
refusals of signing in (the sign-in itself, with its throttle, is :mod:`web.signin`).

Like the workflow services, each function takes the session and ``now``; the caller owns
the transaction. Authorisation is checked here, so pages and API get the same answer.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn  # type: ignore[import-untyped]

from config import Settings
from web.i18n import LANGUAGES
from web.models import Invitation
from web.security import MIN_PASSWORD_LENGTH, hash_password, hash_token, new_token
from workflow import events
from workflow.actors import Actor, require_role
from workflow.errors import InvalidInput, NotAllowed, NotFound, WorkflowError
from workflow.models import Country, User
from workflow.services.common import audit, flush
from workflow.services.users import revoke_sessions
from workflow.states import Role

INVITATION_VALID = timedelta(days=7)


class SignInFailed(WorkflowError):
    code = "sign_in_failed"
    status = 401

    def __init__(self) -> None:
        super().__init__("Wrong email or password. Check both and try again.")


class Throttled(WorkflowError):
    """Too many failed sign-ins, for the account or from the client's address; no
    password was checked. ``until`` is when the next try is allowed."""

    code = "too_many_attempts"
    status = 429

    def __init__(self, until: datetime, *, client: bool = False) -> None:
        whose = "from your network address" if client else "for this email"
        at = f"{until:%H:%M:%S}"
        super().__init__(
            f"Too many failed sign-ins {whose}. Try again after {at} UTC. If you have "
            "forgotten your password, ask an administrator for a new invitation."
        )
        self.until = until
        self.client = client
        self.params = {"at": at}

    @property
    def reason(self) -> str:
        return f"{self.code}.{'client' if self.client else 'account'}"


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
    # Who is told, and what: the ("user", "invite") row of notifications/table.py.
    events.publish(
        session,
        settings,
        [
            events.Event(
                workflow="user",
                subject_type="user",
                subject_id=user.id,
                trigger="invite",
                source=None,
                dest=None,
                actor=actor,
                comment="",
                at=now,
                round=str(invitation.id),
                facts={"url": url, "expires_at": invitation.expires_at},
            )
        ],
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


#: zxcvbn's score (0-4) a new password needs: 3 is "safely unguessable" (about 10^10
#: guesses), beyond what an online or a throttled attack reaches.
MIN_PASSWORD_SCORE = 3
#: zxcvbn looks at this many characters at most (it refuses longer input, and its work
#: grows with the length); a longer password is judged by its beginning.
_SCORED_LENGTH = 72
#: zxcvbn keeps the personal words of a call in a module-level dictionary, so two calls
#: at once could see each other's words: one at a time.
_zxcvbn_lock = threading.Lock()
_ADVICE = "Choose a longer one that only you would think of, for example four or five words."


def personal_words(*texts: str) -> list[str]:
    """The user's email and name, whole and in parts, for the password check."""
    words: list[str] = []
    for text in texts:
        text = text.strip().lower()
        if not text:
            continue
        words.append(text)
        for part in text.replace("@", " ").replace(".", " ").replace("-", " ").split():
            if len(part) >= 3 and part not in words:
                words.append(part)
    return words


_PERSONAL = "It is made of your email address or your name."


def _only_personal(password: str, user_inputs: list[str]) -> bool:
    """Whether ``password`` is little more than the user's own words and some digits
    ("ravins-andris", "Jelgava2019"), however they are joined."""
    rest = re.sub(r"[\W_]", "", password.lower())
    words = {re.sub(r"[\W_]", "", w.lower()) for w in user_inputs}
    used = False
    for word in sorted((w for w in words if len(w) >= 3), key=len, reverse=True):
        used = used or word in rest
        rest = rest.replace(word, "")
    return used and len(re.sub(r"\d", "", rest)) < 4


class PasswordRefused(InvalidInput):
    """A new password that will not do; ``why`` says which rule (for translations)."""

    def __init__(self, message: str, why: str, **params: object) -> None:
        super().__init__(message)
        self.why = why
        self.params = params

    @property
    def reason(self) -> str:
        return f"{self.code}.password_{self.why}"


def password_problem(password: str, user_inputs: Iterable[str] = ()) -> PasswordRefused | None:
    """Why ``password`` is not good enough, in plain words; ``None`` when it is.

    Refused: blank or only spaces, shorter than :data:`MIN_PASSWORD_LENGTH`, and easy to
    guess by zxcvbn (common passwords, keyboard patterns, repeats, dates, the user's own
    email or name) below :data:`MIN_PASSWORD_SCORE`.
    """
    if not password.strip():
        return PasswordRefused(f"The password is empty or only spaces. {_ADVICE}", "empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        return PasswordRefused(
            f"The password is too short ({len(password)} characters): use at least "
            f"{MIN_PASSWORD_LENGTH} characters. {_ADVICE}",
            "short",
            length=len(password),
            min=MIN_PASSWORD_LENGTH,
        )
    inputs = list(user_inputs)
    if _only_personal(password, inputs):
        return PasswordRefused(
            f"This password is too easy to guess. {_PERSONAL} {_ADVICE}", "personal"
        )
    with _zxcvbn_lock:
        result = zxcvbn(password[:_SCORED_LENGTH], user_inputs=inputs)
    if int(result["score"]) >= MIN_PASSWORD_SCORE:
        return None
    if any(m.get("dictionary_name") == "user_inputs" for m in result["sequence"]):
        return PasswordRefused(
            f"This password is too easy to guess. {_PERSONAL} {_ADVICE}", "personal"
        )
    warning = str(result["feedback"].get("warning") or "")
    why = warning or "It follows a pattern that is quick to guess."
    return PasswordRefused(f"This password is too easy to guess. {why} {_ADVICE}", "guessable")


def check_new_password(password: str, repeat: str, *, user_inputs: Iterable[str] = ()) -> None:
    """Refuse a new password that is blank, short or easy to guess, or whose second entry
    differs, saying why. ``user_inputs``: the user's email and name (see
    :func:`personal_words`), which a password must not be built from."""
    problem = password_problem(password, user_inputs)
    if problem is not None:
        raise problem
    if password != repeat:
        raise PasswordRefused(
            "The two entries of the password differ. Type the same password twice.", "differ"
        )


def accept_invitation(
    session: Session, token: str, password: str, repeat: str, *, now: datetime
) -> User:
    """The invitee sets a password; the link cannot be used again."""
    invitation = _invitation(session, token, now)
    user = invited_user(session, token, now=now)
    check_new_password(password, repeat, user_inputs=personal_words(user.email, user.name))
    user.password_hash = hash_password(password)
    invitation.used_at = now
    session.flush()
    # A new password ends every earlier session and API token of the user.
    revoke_sessions(session, user.id, now=now)
    return user


def set_language(session: Session, user_id: int, language: str) -> None:
    if language not in LANGUAGES:
        raise InvalidInput(f"language: choose one of {', '.join(LANGUAGES)}.")
    user = session.get(User, user_id)
    if user is not None:
        user.language = language
        session.flush()
