"""The Institute invites the experts of its jury, on SQLite and PostgreSQL: in the portal,
the API and ``gnlc jury invite`` a juror's account is made with their own country and an
invitation is mailed to them; the Institute creates no other kind of account and
re-invites no one else; a refusal keeps what was typed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import app as gnlc
from notifications.models import OutboxMessage
from tests.conftest import ADMIN, INSTITUTE, World, utc
from tests.e2e.clients import visitor
from tests.e2e.live import Live, live_portal
from web import accounts
from workflow.db import transaction
from workflow.errors import NotAllowed
from workflow.models import User
from workflow.services import users


@pytest.fixture
def live(world: World, db_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(db_url, tmp_path, utc(2027, 3, 10, 9)) as portal:
        yield portal


def _juror(live: Live, email: str) -> User | None:
    with live.factory() as session:
        return session.scalars(select(User).where(User.email == email)).first()


def _invitations(live: Live, address: str) -> int:
    with live.factory() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.occasion == "user_invitation")
        )
        return sum(address in row.to_addrs for row in rows)


def test_the_institute_invites_jurors_in_the_portal_api_and_cli(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    institute = visitor(live.url, "institute@example.org")
    try:
        page = institute.pages.get("/jury")
        assert "Invite a juror" in page.text
        done = institute.post_form(
            "/jury/jurors",
            {"email": "Ana.Expert@Example.org", "name": "Ana Expert", "country_code": "EE",
             "language": "fr"},
        )  # fmt: skip
        assert done.status_code == 303 and done.headers["location"] == "/jury?done=juror_invited"
        listed = institute.pages.get(done.headers["location"]).text
        assert "The juror is invited" in listed and "ana.expert@example.org" in listed
        found = _juror(live, "ana.expert@example.org")
        assert found is not None
        assert (found.role, found.country_code, found.language) == ("juror", "EE", "fr")
        assert found.password_hash is None  # the invitation sets it
        assert _invitations(live, "ana.expert@example.org") == 1

        # A bad address is refused in words, and what was typed comes back.
        refused = institute.post_form(
            "/jury/jurors", {"email": "not an email", "name": "Bo", "country_code": "LV"}
        )
        again = institute.pages.get(refused.headers["location"]).text
        assert 'role="alert"' in again and 'value="Bo"' in again

        made = institute.api.post(
            "/api/v1/jury/jurors",
            json={"email": "cy@example.org", "name": "Cy", "country_code": "LV"},
        )
        assert made.status_code == 201, made.text
        assert made.json()["country_code"] == "LV"
        assert _invitations(live, "cy@example.org") == 1
        assert {j["email"] for j in institute.api.get("/api/v1/jury/jurors").json()} >= {
            "ana.expert@example.org",
            "cy@example.org",
        }
    finally:
        institute.close()

    monkeypatch.setenv("GNLC_DATABASE__URL", live.settings.database.url)
    monkeypatch.setenv("GNLC_MAIL__MAILDIR", str(live.maildir))
    said = CliRunner().invoke(
        gnlc, ["jury", "invite", "dee@example.org", "--name", "Dee", "--country", "FR"]
    )
    assert said.exit_code == 0, said.output
    assert "Invited dee@example.org as a juror (FR)" in said.output
    assert _invitations(live, "dee@example.org") == 1


def test_the_institute_makes_no_other_account(world: World) -> None:
    with transaction(world.factory) as session, pytest.raises(NotAllowed):
        users.create_user(
            session, INSTITUTE, email="x@example.org", name="X", role="city", now=utc(2027, 3, 1)
        )
    with transaction(world.factory) as session:
        officer = users.create_user(
            session, ADMIN, email="officer@example.org", name="An officer", role="institute",
            now=utc(2027, 3, 1),
        )  # fmt: skip
        with pytest.raises(NotAllowed):  # not even a new invitation to someone else
            accounts.invite(session, world.settings, INSTITUTE, officer.id, now=utc(2027, 3, 1))
