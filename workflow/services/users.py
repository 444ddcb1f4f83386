"""User accounts: create, change (ending their sessions), look up."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from workflow.actors import Actor, require_role
from workflow.errors import NotFound
from workflow.models import City, Country, User, UserSession
from workflow.services.common import audit, flush
from workflow.services.directory import (
    FieldInvalid,
    check_email,
    check_language,
    check_one_line,
    contains,
)
from workflow.states import Role


def may_create(actor: Actor, role: Role) -> None:
    """Administrators create and invite every account; the Institute invites the jurors
    of its expert jury (docs/domain.md, "The expert jury")."""
    if actor.role is Role.INSTITUTE and role is Role.JUROR:
        return
    require_role(actor, Role.ADMIN, doing="create users")


def create_user(
    session: Session,
    actor: Actor,
    *,
    email: str,
    name: str,
    role: str,
    now: datetime,
    country_code: str | None = None,
    city_id: int | None = None,
    language: str = "en",
    password_hash: str | None = None,
) -> User:
    role_value = _role(role)
    may_create(actor, role_value)
    email = check_email(email).lower()
    _refuse_taken(session, email, None)
    country_code, city_id = _scope(session, role_value, country_code, city_id)
    user = User(
        email=email,
        name=check_one_line(name, "name").strip() or email,
        role=role_value.value,
        country_code=country_code,
        city_id=city_id,
        language=check_language(language),
        password_hash=password_hash,
        active=True,
        created_at=now,
    )
    session.add(user)
    flush(session, "user", email)
    audit(
        session,
        actor,
        subject_type="user",
        subject_id=user.id,
        action="create",
        now=now,
        comment=f"{email} as {role_value.value}",
    )
    return user


def _refuse_taken(session: Session, email: str, user_id: int | None) -> None:
    other = session.scalars(select(User).where(User.email == email)).first()
    if other is not None and other.id != user_id:
        raise FieldInvalid(
            "email_taken", "email", f"a user with {email} exists already.", value=email
        )


def _role(role: str) -> Role:
    roles = ", ".join(r.value for r in Role if r is not Role.SYSTEM)
    try:
        role_value = Role(role)
    except ValueError as exc:
        raise FieldInvalid("not_role", "role", f"{role!r} is not one of {roles}.") from exc
    if role_value is Role.SYSTEM:
        raise FieldInvalid("not_role", "role", "'system' is reserved for the scheduler.")
    return role_value


def _scope(
    session: Session, role: Role, country_code: str | None, city_id: int | None
) -> tuple[str | None, int | None]:
    """The (country, city) a user of ``role`` is scoped to, checked."""
    if role is Role.CITY:
        city = session.get(City, city_id) if city_id is not None else None
        if city is None:
            raise FieldInvalid(
                "city_needed",
                "",
                "A city user needs an existing city (--city).",
                label="users.city",
            )
        return city.country_code, city.id
    if role is Role.COMMISSION:
        if not country_code or session.get(Country, country_code.upper()) is None:
            raise FieldInvalid(
                "country_needed",
                "",
                "A Commission user needs an existing country (--country).",
                label="users.country",
            )
        return country_code.upper(), None
    if role is Role.JUROR:
        # A juror's own country: never given an application of it (conflicts of interest).
        if not country_code or session.get(Country, country_code.upper()) is None:
            raise FieldInvalid(
                "juror_country_needed",
                "",
                "A juror needs their own country (--country): they never review its cities.",
                label="users.country",
            )
        return country_code.upper(), None
    return None, None


def revoke_sessions(session: Session, user_id: int | None, *, now: datetime) -> int:
    """End every session and API token of ``user_id`` (a changed password, role, scope
    or a deactivation), or of everyone when ``user_id`` is None (after a restore);
    returns how many were still open."""
    query = update(UserSession).where(UserSession.revoked_at.is_(None))
    if user_id is not None:
        query = query.where(UserSession.user_id == user_id)
    result = session.execute(query.values(revoked_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


def change_user(
    session: Session,
    actor: Actor,
    email: str,
    *,
    now: datetime,
    role: str | None = None,
    country_code: str | None = None,
    city_id: int | None = None,
    active: bool | None = None,
) -> User:
    """Change a user's role, scope or whether the account may sign in. Any change ends
    every session of the user: they sign in again with what they may now do."""
    require_role(actor, Role.ADMIN, doing="change users")
    user = user_by_email(session, email)
    role_value = _role(role) if role is not None else Role(user.role)
    scope_given = role is not None or country_code is not None or city_id is not None
    if scope_given:
        country, city = _scope(
            session,
            role_value,
            country_code if country_code is not None else user.country_code,
            city_id if city_id is not None else user.city_id,
        )
    else:
        country, city = user.country_code, user.city_id
    before = (user.role, user.country_code, user.city_id, user.active)
    user.role, user.country_code, user.city_id = role_value.value, country, city
    if active is not None:
        user.active = active
    after = (user.role, user.country_code, user.city_id, user.active)
    if after == before:
        return user
    flush(session, "user", user.email)
    ended = revoke_sessions(session, user.id, now=now)
    scope = user.country_code or ""
    if user.city_id is not None:
        scope += f", city {user.city_id}"
    audit(
        session,
        actor,
        subject_type="user",
        subject_id=user.id,
        action="change",
        now=now,
        comment=(
            f"{user.email}: {user.role}{' (' + scope + ')' if scope else ''}, "
            f"{'active' if user.active else 'inactive'}; {ended} session(s) ended"
        ),
    )
    return user


class Person(Protocol):
    """What an actor is made of: an account, as the ORM or a request's session reads it."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def country_code(self) -> str | None: ...
    @property
    def city_id(self) -> int | None: ...


def actor_for(user: Person) -> Actor:
    return Actor(Role(user.role), user.name, user.id, user.country_code, user.city_id)


def user_by_email(session: Session, email: str) -> User:
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise NotFound("user", email)
    return user


def find_users(
    session: Session,
    actor: Actor,
    *,
    search: str = "",
    role: str = "",
    active: bool | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[int, list[User]]:
    """Users whose email or name contains ``search`` (any case), optionally of one role
    or activity: how many there are, and those from ``offset`` on, by role and email."""
    require_role(actor, Role.ADMIN, doing="see the users")
    query = select(User)
    text = search.strip().lower()
    if text:
        pattern = contains(text)
        query = query.where(
            func.lower(User.email).like(pattern, escape="\\")
            | func.lower(User.name).like(pattern, escape="\\")
        )
    if role:
        query = query.where(User.role == _role(role).value)
    if active is not None:
        query = query.where(User.active.is_(active))
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(query.order_by(User.role, User.email).offset(offset).limit(limit))
    return total, list(rows)


def get_user(session: Session, actor: Actor, user_id: int) -> User:
    require_role(actor, Role.ADMIN, doing="see the users")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


def edit_user(
    session: Session,
    actor: Actor,
    user_id: int,
    *,
    now: datetime,
    name: str,
    email: str,
    language: str,
    role: str,
    country_code: str | None = None,
    city_id: int | None = None,
    active: bool = True,
    languages: Sequence[str] | None = None,
) -> User:
    """The administrator's form: name, email and language, then role, scope and whether
    the account may sign in (:func:`change_user`: a change there ends the user's sessions)."""
    user = get_user(session, actor, user_id)
    email = check_email(email).lower()
    _refuse_taken(session, email, user.id)
    before = (user.name, user.email, user.language)
    user.name = check_one_line(name, "name") or email
    user.email = email
    user.language = check_language(language, allowed=languages)
    after = (user.name, user.email, user.language)
    if after != before:
        flush(session, "user", email)
        fields = ("name", "email", "language")
        changed = [f for f, b, a in zip(fields, before, after, strict=True) if b != a]
        audit(session, actor, subject_type="user", subject_id=user.id, action="change",
              now=now, comment=f"{email}: {', '.join(changed)}")  # fmt: skip
    role_value = _role(role)
    # The form gives the whole scope: a blank city or country is none, not "unchanged".
    country_code, city_id = _scope(session, role_value, country_code, city_id)
    return change_user(
        session,
        actor,
        email,
        now=now,
        role=role_value.value,
        country_code=(country_code or None) if role_value is Role.COMMISSION else None,
        city_id=city_id if role_value is Role.CITY else None,
        active=active,
    )
