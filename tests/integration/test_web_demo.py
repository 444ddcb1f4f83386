"""The demo data: every account signs in, and loading it again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from tests.e2e.clients import csrf_of
from tests.e2e.live import live_portal
from web.demo import PASSWORD, USERS, load_demo
from web.signin import Transactions, attempt
from workflow.db import transaction
from workflow.models import Call, City, Country, Membership, Report, User
from workflow.services import calls as call_service


def counts(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as session:
        return {
            m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0
            for m in (User, City, Membership, Report, Call)
        }


def test_demo_loads_once_and_every_account_signs_in(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    load_demo(factory, settings, now)
    first = counts(factory)
    load_demo(factory, settings, now)
    assert counts(factory) == first
    assert first["users"] == len(USERS)
    for email, *_ in USERS:
        found = attempt(
            Transactions(factory), settings.signin, email, PASSWORD, client="127.0.0.1", now=now
        )
        assert found.user_id > 0, email
    with transaction(factory) as session:
        # A call is open now, so a newcomer's city can apply at once.
        call = call_service.current_or_next(session, settings, now)
        assert call is not None and call_service.window(call).contains(now)
        valmiera = session.scalars(select(Membership)).one()
        reports = session.scalars(
            select(Report).where(Report.membership_id == valmiera.id).order_by(Report.due_on)
        ).all()
        assert [r.due_on.year for r in reports] == [2018, 2020, 2022, 2024, 2026]
        assert [r.state for r in reports][-2:] == ["accepted", "submitted"]


def test_demo_addresses_are_demo_ones_and_accounts_have_no_language_yet(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    """With SMTP configured the demo mails no real office: every Commission's and city's
    address is under demo.example.org, every account under example.org; the accounts
    take the language of whoever signs in first."""
    load_demo(factory, settings, datetime(2026, 11, 22, 12, tzinfo=UTC))
    with factory() as session:
        offices = list(session.scalars(select(Country.commission_email)))
        contacts = list(session.scalars(select(City.contact_email)))
        accounts = [(u.email, u.language) for u in session.scalars(select(User))]
    assert sorted(offices) == [f"office.{c}@demo.example.org" for c in ("ee", "fr", "lv")]
    assert len(contacts) == 4
    assert all(c.endswith("@demo.example.org") for c in contacts), contacts
    assert accounts and all(e.endswith("@example.org") and lang == "" for e, lang in accounts)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_french_browser_stays_french_once_signed_in(db_url: str, tmp_path: Path) -> None:
    with (
        live_portal(db_url, tmp_path, datetime(2027, 3, 10, 9, tzinfo=UTC)) as live,
        httpx.Client(
            base_url=live.url, headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}
        ) as browser,
    ):
        login = browser.get("/login")
        assert '<html lang="fr">' in login.text
        signed = browser.post(
            "/login",
            data={
                "csrf_token": csrf_of(browser),
                "email": "lyon@example.org",
                "password": PASSWORD,
                "next": "/",
            },
        )
        assert signed.status_code == 303
        home = browser.get("/")
        assert home.status_code == 200 and '<html lang="fr">' in home.text
        with live.factory() as session:
            lyon = session.scalars(select(User).where(User.email == "lyon@example.org")).one()
            assert lyon.language == "fr"
