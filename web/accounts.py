"""Account services: invitations, password rules, password reset and change, the
profile (name, language), user lists, and the refusals of signing in (the sign-in itself,
with its throttle, is :mod:`web.signin`).

Like the workflow services, each function takes the session and ``now``; the caller owns
the transaction. Authorisation is checked here, so pages and API get the same answer.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import case, literal, select, update
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn  # type: ignore[import-untyped]

from config import Settings
from web.i18n import LANGUAGES
from web.models import Invitation, SignInThrottle
from web.security import MIN_PASSWORD_LENGTH, hash_password, hash_token, new_token
from workflow import events
from workflow.actors import Actor, require_role
from workflow.db import dialect_insert
from workflow.errors import Conflict, InvalidInput, NotAllowed, NotFound, WorkflowError
from workflow.models import Country, PasswordReset, User, UserSession, UTCDateTime
from workflow.services.common import audit, flush
from workflow.services.directory import FieldInvalid, check_required
from workflow.services.users import actor_for, revoke_sessions
from workflow.states import Role

if TYPE_CHECKING:
    from web.signin import Units

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
            'forgotten your password, choose a new one with "Forgot your password?" on the '
            "sign-in page."
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


def _tell_user(
    session: Session,
    settings: Settings,
    user: User,
    trigger: str,
    *,
    actor: Actor,
    now: datetime,
    round: str,
    facts: dict[str, object],
) -> None:
    """The event of a mail to ``user`` about their account (an invitation, a reset link):
    the ("user", ``trigger``) row of notifications/table.py says what is written."""
    events.publish(
        session,
        settings,
        [
            events.Event(
                workflow="user",
                subject_type="user",
                subject_id=user.id,
                trigger=trigger,
                source=None,
                dest=None,
                actor=actor,
                comment="",
                at=now,
                round=round,
                facts=facts,
            )
        ],
    )


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
    _tell_user(
        session,
        settings,
        user,
        "invite",
        actor=actor,
        now=now,
        round=str(invitation.id),
        facts={"url": url, "expires_at": invitation.expires_at},
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
            "Ask an administrator for a new one.",
            "invitation_used",
        )
    if found.expires_at <= now:
        raise InvalidInput(
            f"This invitation expired on {found.expires_at:%Y-%m-%d %H:%M} UTC. "
            "Ask an administrator for a new one.",
            "invitation_expired",
            expired=found.expires_at,
        )
    return found


def invited_user(session: Session, token: str, *, now: datetime) -> User:
    invitation = _invitation(session, token, now)
    user = session.get(User, invitation.user_id)
    if user is None or not user.active:
        raise NotAllowed("This account is disabled. Ask an administrator.", "disabled")
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
    session: Session,
    token: str,
    password: str,
    repeat: str,
    *,
    now: datetime,
    language: str = "",
    chosen: bool = False,
) -> User:
    """The invitee sets a password; the link cannot be used again.

    ``language`` is the one the invitee was reading the page in: the account takes it
    when it has none yet, or when the invitee ``chosen`` it with the language switch."""
    invitation = _invitation(session, token, now)
    user = invited_user(session, token, now=now)
    check_new_password(password, repeat, user_inputs=personal_words(user.email, user.name))
    user.password_hash = hash_password(password)
    invitation.used_at = now
    if language in LANGUAGES and (chosen or user.language not in LANGUAGES):
        user.language = language
    session.flush()
    # A new password ends every earlier session and API token of the user.
    revoke_sessions(session, user.id, now=now)
    return user


def set_language(session: Session, user_id: int, language: str) -> None:
    if language not in LANGUAGES:
        raise InvalidInput(
            f"language: choose one of {', '.join(LANGUAGES)}.",
            "not_language",
            field="field.language",
        )
    user = session.get(User, user_id)
    if user is not None:
        user.language = language
        session.flush()


def adopt_language(session: Session, user_id: int, language: str) -> str:
    """The account's language; an account with none takes ``language`` (the one its
    user was reading the portal in when signing in)."""
    user = session.get(User, user_id)
    if user is None:
        return language
    if user.language not in LANGUAGES and language in LANGUAGES:
        user.language = language
        session.flush()
    return user.language


# --- the profile -------------------------------------------------------------------------

#: The longest name kept (the column's width).
NAME_MAX = 200


def update_profile(session: Session, user_id: int, *, name: str, language: str) -> User:
    """The signed-in user's own name and language (of the portal's languages)."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound("user", user_id)
    name = check_required(name, "name")
    if len(name) > NAME_MAX:
        raise FieldInvalid(
            "too_long", "name", f"{len(name)} characters, at most {NAME_MAX}.",
            length=len(name), max=NAME_MAX,
        )  # fmt: skip
    if language not in LANGUAGES:
        raise FieldInvalid(
            "not_language", "language", f"{language!r} is not one of {', '.join(LANGUAGES)}.",
            value=language, languages=", ".join(LANGUAGES),
        )  # fmt: skip
    user.name = name
    user.language = language
    flush(session, "user", user.email)
    return user


# --- changing one's password -------------------------------------------------------------


class WrongPassword(WorkflowError):
    """The current password, asked before a new one is set, did not match."""

    code = "wrong_password"
    status = 422

    def __init__(self) -> None:
        super().__init__(
            "Your current password is not right. Type it again; if you have forgotten it, "
            'sign out and use "Forgot your password?" on the sign-in page.'
        )


def change_password(
    units: Units,
    settings: Settings,
    user_id: int,
    current: str,
    password: str,
    repeat: str,
    *,
    keep_session: int | None,
    client: str | None,
    now: datetime,
) -> int:
    """The signed-in user replaces their password, giving the current one first (checked
    and throttled as a sign-in is: a stolen session cannot try passwords at will). Every
    other session and API token of the user ends; ``keep_session`` (the one asking) goes
    on. Returns how many sessions ended.

    No transaction is open while Argon2 checks the current password or hashes the new.
    """
    from web import signin  # web.signin imports this module's refusals

    with units.reading() as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise NotFound("user", user_id)
        email, inputs = user.email, personal_words(user.email, user.name)
    try:
        checked = signin.attempt(units, settings.signin, email, current, client=client, now=now)
    except SignInFailed:
        raise WrongPassword() from None
    check_new_password(password, repeat, user_inputs=inputs)
    new_hash = hash_password(password)
    with units.unit() as session:
        changed = session.execute(
            update(User)
            .where(User.id == user_id, User.password_hash == checked.password_hash)
            .values(password_hash=new_hash)
        )
        if not getattr(changed, "rowcount", 0):
            raise Conflict("user", email, "the password was changed meanwhile")
        others = update(UserSession).where(
            UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
        )
        if keep_session is not None:
            others = others.where(UserSession.id != keep_session)
        ended = int(getattr(session.execute(others.values(revoked_at=now)), "rowcount", 0) or 0)
        session.execute(
            update(PasswordReset)
            .where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        )
        who = session.get(User, user_id)
        assert who is not None
        audit(
            session,
            actor_for(who),
            subject_type="user",
            subject_id=user_id,
            action="change_password",
            now=now,
            comment=f"{ended} other sessions ended",
        )
    return ended


# --- "Forgot your password?" -------------------------------------------------------------


class ResetThrottled(WorkflowError):
    """Too many requests for a new password from one client address. The answer is the
    same for every email, so it tells nothing about accounts."""

    code = "too_many_resets"
    status = 429

    def __init__(self, minutes: int) -> None:
        super().__init__(
            "Too many requests for a new password from your network address. "
            f"Try again in {minutes} minutes."
        )
        self.params = {"minutes": minutes}


class ResetLinkInvalid(InvalidInput):
    """A link to choose a new password that was used, replaced or has expired."""

    def __init__(self, why: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.why = why
        self.params = params

    @property
    def reason(self) -> str:
        return f"{self.code}.{self.why}"


def _used_link() -> ResetLinkInvalid:
    return ResetLinkInvalid(
        "reset_link_used",
        "This link to choose a new password does not work any more: it was used, or a "
        'newer one was sent. Ask for a new link with "Forgot your password?".',
    )


def count_request(session: Session, key: str, window: timedelta, now: datetime) -> int:
    """Count one request under ``key`` (a row of the sign-in throttle table) in one
    atomic statement, so parallel requests cannot all slip under a limit. Returns the
    requests within the current ``window``, this one included."""
    t = SignInThrottle.__table__
    fresh = t.c.window_started_at <= literal(now - window, UTCDateTime())
    statement = (
        dialect_insert(session)(t)
        .values(key=key, failures=1, window_started_at=now, pending=0)
        .on_conflict_do_update(
            index_elements=[t.c.key],
            set_={
                "failures": case((fresh, 1), else_=t.c.failures + 1),
                "window_started_at": case(
                    (fresh, literal(now, UTCDateTime())), else_=t.c.window_started_at
                ),
            },
        )
        .returning(t.c.failures)
    )
    return int(session.execute(statement).scalar_one())


def reset_url(settings: Settings, token: str) -> str:
    return f"{settings.web.public_url.rstrip('/')}/password/reset/{token}"


def request_reset(
    session: Session, settings: Settings, email: str, *, client: str | None, now: datetime
) -> str | None:
    """Someone asks for a link to choose a new password for ``email``.

    An active account of that address is emailed a one-time link (through the outbox),
    valid ``[signin] reset_link_minutes``; earlier unused links of the account stop
    working. The caller answers the same whatever happens here, so nobody learns
    which addresses have accounts: an unknown or inactive address, or one that asked
    more than ``reset_max_requests`` times within ``window_minutes``, gets no mail and
    no refusal. Only a client address over ``reset_client_max_requests`` is refused
    (:class:`ResetThrottled`), for any email alike. Returns the link's token when a
    mail is owed (for tests), else ``None``.
    """
    limits = settings.signin
    window = timedelta(minutes=limits.window_minutes)
    address = email.strip().lower()[:254]
    client_key = f"reset:client:{(client or 'unknown')[:100]}"
    if count_request(session, client_key, window, now) > limits.reset_client_max_requests:
        raise ResetThrottled(limits.window_minutes)
    asked = count_request(session, f"reset:account:{address}", window, now)
    user = session.scalars(select(User).where(User.email == address)).first()
    token = new_token()  # made for every request: known and unknown ones cost alike
    if user is None or not user.active or asked > limits.reset_max_requests:
        return None
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    reset = PasswordReset(
        user_id=user.id,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=now + timedelta(minutes=limits.reset_link_minutes),
    )
    session.add(reset)
    flush(session, "user", user.email)
    actor = actor_for(user)
    # Who is told, and what: the ("user", "password_reset") row of notifications/table.py.
    _tell_user(
        session,
        settings,
        user,
        "password_reset",
        actor=actor,
        now=now,
        round=str(reset.id),
        facts={"url": reset_url(settings, token), "expires_at": reset.expires_at},
    )
    audit(
        session,
        actor,
        subject_type="user",
        subject_id=user.id,
        action="request_password_reset",
        now=now,
        comment=f"link valid until {reset.expires_at:%Y-%m-%d %H:%M} UTC",
    )
    return token


def _reset_of(session: Session, token: str, now: datetime) -> tuple[PasswordReset, User]:
    if not token or len(token) > 200:
        raise _used_link()
    found = session.scalars(
        select(PasswordReset).where(PasswordReset.token_hash == hash_token(token))
    ).first()
    if found is None or found.used_at is not None:
        raise _used_link()
    if found.expires_at <= now:
        minutes = int((found.expires_at - found.created_at).total_seconds() // 60)
        raise ResetLinkInvalid(
            "reset_link_expired",
            f"This link to choose a new password has expired (it works for {minutes} "
            'minutes). Ask for a new one with "Forgot your password?".',
            minutes=minutes,
        )
    user = session.get(User, found.user_id)
    if user is None or not user.active:
        raise _used_link()
    return found, user


def reset_user(session: Session, token: str, *, now: datetime) -> User:
    """The user whose link ``token`` is, while the link works."""
    return _reset_of(session, token, now)[1]


def reset_password(units: Units, token: str, password: str, repeat: str, *, now: datetime) -> int:
    """Choose a new password with the emailed link ``token``, which then stops working.
    The rules are those of every new password; every session and API token of the user
    ends. Returns the user's id. Argon2 hashes outside any transaction."""
    with units.reading() as session:
        user = reset_user(session, token, now=now)
        inputs = personal_words(user.email, user.name)
    check_new_password(password, repeat, user_inputs=inputs)
    new_hash = hash_password(password)
    with units.unit() as session:
        reset, user = _reset_of(session, token, now)
        taken = session.execute(
            update(PasswordReset)
            .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        )
        if not getattr(taken, "rowcount", 0):  # a second click at the same moment
            raise _used_link()
        user.password_hash = new_hash
        session.flush()
        revoke_sessions(session, user.id, now=now)
        audit(
            session,
            actor_for(user),
            subject_type="user",
            subject_id=user.id,
            action="reset_password",
            now=now,
        )
        return user.id
