"""Accounts on a real database (SQLite and PostgreSQL): "Forgot your password?" through the
outbox, the one-time link, changing one's password, the profile, and the services'
refusals. The portal's pages for the same: tests/integration/test_account_pages.py.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from notifications.models import OutboxMessage
from notifications.render import available_languages
from tests.conftest import ADMIN, utc
from web import accounts, sessions
from web.accounts import PasswordRefused, ResetLinkInvalid, ResetThrottled, WrongPassword
from web.security import hash_password, verify_password
from web.signin import Transactions, attempt
from workflow.db import transaction
from workflow.errors import InvalidInput
from workflow.models import AuditEvent, PasswordReset, User, UserSession
from workflow.services import users
from workflow.states import Role

NOW = utc(2027, 3, 10, 9)
PASSWORD = "Quiet harbour lantern 1987"
NEW_PASSWORD = "Seven amber kites over Riga"
EMAIL = "officer@example.org"
CLIENT = "192.0.2.7"


@functools.cache
def old_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def officer(factory: sessionmaker[Session]) -> int:
    with transaction(factory) as session:
        user = users.create_user(
            session,
            ADMIN,
            email=EMAIL,
            name="Institute officer",
            role=Role.INSTITUTE,
            language="lv",
            password_hash=old_hash(),
            now=NOW,
        )
        return user.id


def ask(
    factory: sessionmaker[Session],
    settings: Settings,
    email: str = EMAIL,
    *,
    client: str = CLIENT,
    now: datetime = NOW,
) -> str | None:
    with transaction(factory) as session:
        return accounts.request_reset(session, settings, email, client=client, now=now)


def reset_mails(factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with factory() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.occasion == "password_reset")
                .order_by(OutboxMessage.id)
            )
        )


def open_sessions(factory: sessionmaker[Session], user_id: int) -> list[int]:
    with factory() as session:
        return list(
            session.scalars(
                select(UserSession.id).where(
                    UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
                )
            )
        )


def start(factory: sessionmaker[Session], settings: Settings, user_id: int, kind: str) -> int:
    with transaction(factory) as session:
        return sessions.start(session, settings, user_id, kind, now=NOW).id


def test_a_reset_is_mailed_through_the_outbox_with_a_hashed_single_use_link(
    factory: sessionmaker[Session], settings: Settings, officer: int
) -> None:
    browser = start(factory, settings, officer, sessions.BROWSER)
    token = ask(factory, settings, "  Officer@Example.org ")
    assert token is not None
    [mail] = reset_mails(factory)
    assert mail.to_addrs == [EMAIL] and mail.language == "lv"
    assert f"/password/reset/{token}" in mail.body_text
    assert "Izvēlieties jauno paroli šeit" in mail.body_text  # the account's language
    with factory() as session:
        [row] = session.scalars(select(PasswordReset)).all()
        # Stored hashed: the database alone does not open the link.
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.expires_at == NOW + timedelta(minutes=settings.signin.reset_link_minutes)
    units = Transactions(factory)
    later = NOW + timedelta(minutes=5)
    assert accounts.reset_password(units, token, NEW_PASSWORD, NEW_PASSWORD, now=later) == officer
    with factory() as session:
        user = session.get(User, officer)
        assert user is not None and verify_password(user.password_hash, NEW_PASSWORD)
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions[-2:] == ["request_password_reset", "reset_password"]
    assert browser not in open_sessions(factory, officer)  # every session ended
    # Usable once.
    with pytest.raises(ResetLinkInvalid) as again:
        accounts.reset_password(units, token, "Another long phrase 42", "Another long phrase 42",
                                now=later)  # fmt: skip
    assert again.value.reason == "invalid_input.reset_link_used"
    signed = attempt(units, settings.signin, EMAIL, NEW_PASSWORD, client=CLIENT, now=later)
    assert signed.user_id == officer


def test_a_link_expires_and_a_newer_one_replaces_it(
    factory: sessionmaker[Session], settings: Settings, officer: int
) -> None:
    units = Transactions(factory)
    first = ask(factory, settings)
    second = ask(factory, settings, now=NOW + timedelta(minutes=1))
    assert first and second and first != second
    with pytest.raises(ResetLinkInvalid) as replaced, factory() as session:
        accounts.reset_user(session, first, now=NOW + timedelta(minutes=2))
    assert replaced.value.reason == "invalid_input.reset_link_used"
    minutes = settings.signin.reset_link_minutes
    too_late = NOW + timedelta(minutes=1 + minutes)
    with pytest.raises(ResetLinkInvalid) as expired:
        accounts.reset_password(units, second, NEW_PASSWORD, NEW_PASSWORD, now=too_late)
    assert expired.value.reason == "invalid_input.reset_link_expired"
    assert expired.value.params == {"minutes": minutes}
    just_in_time = too_late - timedelta(seconds=1)
    assert accounts.reset_password(units, second, NEW_PASSWORD, NEW_PASSWORD, now=just_in_time)


def test_a_weak_new_password_is_refused_and_the_link_still_works(
    factory: sessionmaker[Session], settings: Settings, officer: int
) -> None:
    units = Transactions(factory)
    token = ask(factory, settings)
    assert token is not None
    with pytest.raises(PasswordRefused) as weak:
        accounts.reset_password(units, token, "password12", "password12", now=NOW)
    assert weak.value.reason == "invalid_input.password_guessable"
    with pytest.raises(PasswordRefused):
        accounts.reset_password(units, token, NEW_PASSWORD, NEW_PASSWORD + "!", now=NOW)
    assert accounts.reset_password(units, token, NEW_PASSWORD, NEW_PASSWORD, now=NOW) == officer


def test_an_unknown_or_inactive_address_gets_no_mail_and_no_refusal(
    factory: sessionmaker[Session], settings: Settings, officer: int
) -> None:
    assert ask(factory, settings, "nobody@example.org") is None
    with transaction(factory) as session:
        user = session.get(User, officer)
        assert user is not None
        user.active = False
    assert ask(factory, settings) is None
    assert reset_mails(factory) == []
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(PasswordReset)) == 0


def test_requests_are_throttled_per_address_silently_and_per_client_openly(
    factory: sessionmaker[Session], settings: Settings, officer: int
) -> None:
    limit = settings.signin.reset_max_requests
    for i in range(limit):
        assert ask(factory, settings, now=NOW + timedelta(seconds=i)) is not None
    assert ask(factory, settings, now=NOW + timedelta(seconds=limit)) is None  # no more mail
    assert len(reset_mails(factory)) == limit
    window = timedelta(minutes=settings.signin.window_minutes)
    assert ask(factory, settings, now=NOW + window + timedelta(seconds=1)) is not None
    # One client asking for many addresses is refused, whichever the address.
    tight = settings.with_overrides(signin={"reset_client_max_requests": 2})
    for email in ("a@example.org", "b@example.org"):
        assert ask(factory, tight, email, client="198.51.100.1") is None
    for email in ("c@example.org", EMAIL):
        with pytest.raises(ResetThrottled) as refused:
            ask(factory, tight, email, client="198.51.100.1")
        assert refused.value.status == 429 and refused.value.reason == "too_many_resets"


def test_changing_the_password_needs_the_current_one_and_ends_the_other_sessions(
    factory: sessionmaker[Session], settings: Settings, officer: int
) -> None:
    units = Transactions(factory)
    mine = start(factory, settings, officer, sessions.BROWSER)
    other = start(factory, settings, officer, sessions.BROWSER)
    token = start(factory, settings, officer, sessions.API)
    pending = ask(factory, settings)

    def change(current: str, new: str, repeat: str) -> int:
        return accounts.change_password(
            units, settings, officer, current, new, repeat,
            keep_session=mine, client=CLIENT, now=NOW,
        )  # fmt: skip

    with pytest.raises(WrongPassword):
        change("not my password", NEW_PASSWORD, NEW_PASSWORD)
    with pytest.raises(PasswordRefused):
        change(PASSWORD, "short", "short")
    assert sorted(open_sessions(factory, officer)) == sorted([mine, other, token])
    assert change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD) == 2
    assert open_sessions(factory, officer) == [mine]
    with factory() as session:
        user = session.get(User, officer)
        assert user is not None and verify_password(user.password_hash, NEW_PASSWORD)
    # A reset link asked for before the change does not work after it.
    assert pending is not None
    with pytest.raises(ResetLinkInvalid), factory() as session:
        accounts.reset_user(session, pending, now=NOW)


def test_the_profile_changes_name_and_language_within_the_rules(
    factory: sessionmaker[Session], officer: int
) -> None:
    with transaction(factory) as session:
        accounts.update_profile(session, officer, name="  Anna Bērziņa ", language="fr")
    with factory() as session:
        user = session.get(User, officer)
        assert user is not None and (user.name, user.language) == ("Anna Bērziņa", "fr")
    for name, language, reason in [
        ("   ", "fr", "invalid_input.required"),
        ("x" * 201, "fr", "invalid_input.too_long"),
        ("Anna", "de", "invalid_input.not_language"),
    ]:
        with pytest.raises(InvalidInput) as refused, transaction(factory) as session:
            accounts.update_profile(session, officer, name=name, language=language)
        assert refused.value.reason == reason


def test_an_account_without_a_language_takes_the_one_its_user_reads(
    factory: sessionmaker[Session], officer: int
) -> None:
    with transaction(factory) as session:
        user = session.get(User, officer)
        assert user is not None
        user.language = ""
    with transaction(factory) as session:
        assert accounts.adopt_language(session, officer, "ru") == "ru"
    with transaction(factory) as session:  # once it has one, it keeps it
        assert accounts.adopt_language(session, officer, "fr") == "ru"


def test_the_reset_mail_exists_in_every_language_of_the_network(settings: Settings) -> None:
    assert set(available_languages("password_reset")) >= set(settings.network.languages)
