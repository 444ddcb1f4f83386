"""Sessions and API tokens the server can end, and the secret key, over HTTP against a
live portal on SQLite and on PostgreSQL: signing out, revocation on a changed password,
role or deactivation, idle and absolute lifetimes, forged tokens, the token list, and
the refusal to start without a proper key."""

from __future__ import annotations

import hashlib
import re
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import app as gnlc
from config import load_settings
from config.paths import demo_key_file
from notifications.models import OutboxMessage
from tests.conftest import ADMIN
from tests.e2e.clients import csrf_of
from tests.e2e.live import Live, live_portal
from web import sessions
from web.app import create_app
from web.demo import PASSWORD
from workflow.db import transaction
from workflow.models import User, UserSession
from workflow.services import users

START = datetime(2027, 3, 10, 9, tzinfo=UTC)
GOOD_KEY = "k" * 40


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(db_url, tmp_path, START) as portal:
        yield portal


def browser(live: Live, email: str, password: str = PASSWORD) -> httpx.Client:
    """A client signed in by the sign-in page (its cookie holds the session)."""
    client = httpx.Client(base_url=live.url, follow_redirects=False, timeout=30)
    token = csrf_of(client)
    signed = client.post(
        "/login", data={"csrf_token": token, "email": email, "password": password, "next": "/"}
    )
    assert signed.status_code == 303, signed.text[:300]
    return client


def api_client(live: Live, email: str, label: str = "") -> tuple[httpx.Client, dict[str, object]]:
    """A client with a fresh API token, and the answer that made it."""
    client = httpx.Client(base_url=live.url, follow_redirects=False, timeout=30)
    made = client.post(
        "/api/v1/session", json={"email": email, "password": PASSWORD, "label": label}
    )
    assert made.status_code == 200, made.text
    body = made.json()
    client.headers["Authorization"] = f"Bearer {body['token']}"
    return client, body


def signed_in_page(client: httpx.Client) -> bool:
    """Does the home page open signed in (200) or send to the sign-in page (303)?"""
    response = client.get("/")
    assert response.status_code in (200, 303), response.status_code
    if response.status_code == 303:
        assert response.headers["location"].startswith("/login")
    return response.status_code == 200


def replay(live: Live, cookie: str) -> httpx.Client:
    return httpx.Client(
        base_url=live.url, cookies={"gnlc_session": cookie}, follow_redirects=False, timeout=30
    )


def user_id(live: Live, email: str) -> int:
    with live.factory() as session:
        found = session.scalars(select(User.id).where(User.email == email)).one()
        return int(found)


def rows_of(live: Live, email: str) -> list[UserSession]:
    with live.factory() as session:
        return list(
            session.scalars(
                select(UserSession)
                .where(UserSession.user_id == user_id(live, email))
                .order_by(UserSession.id)
            )
        )


# --- signing out ---------------------------------------------------------------------------


def test_a_cookie_kept_after_signing_out_opens_nothing(live: Live) -> None:
    person = browser(live, "jelgava@example.org")
    kept = person.cookies["gnlc_session"]
    assert signed_in_page(person)
    out = person.post("/logout", data={"csrf_token": csrf_of(person, "/")})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert not signed_in_page(person)
    with replay(live, kept) as attacker:
        assert not signed_in_page(attacker)
        assert attacker.get("/applications").status_code == 303
        assert attacker.get("/api/v1/me").status_code == 401
    [row] = rows_of(live, "jelgava@example.org")
    assert row.kind == "browser" and row.revoked_at == START
    # Signing in again is a new session; the ended one stays ended.
    again = browser(live, "jelgava@example.org")
    assert signed_in_page(again)
    with replay(live, kept) as attacker:
        assert not signed_in_page(attacker)
    person.close()
    again.close()


def test_an_api_token_stops_working_once_signed_out(live: Live) -> None:
    client, made = api_client(live, "commission.lv@example.org", "a script")
    other, _ = api_client(live, "commission.lv@example.org")
    assert str(made["token"]).startswith("gnlc_")
    assert made["expires_in"] == live.settings.sessions.api_token_days * 86400
    assert client.get("/api/v1/me").json()["email"] == "commission.lv@example.org"
    assert client.delete("/api/v1/session").status_code == 204
    refused = client.get("/api/v1/me")
    assert refused.status_code == 401
    assert refused.json()["code"] == "sign_in_required"
    assert client.delete("/api/v1/session").status_code == 401
    # Only that token ended.
    assert other.get("/api/v1/me").status_code == 200
    client.close()
    other.close()


def test_the_api_signs_a_browser_out_with_its_cookie_and_csrf_header(live: Live) -> None:
    person = browser(live, "lyon@example.org")
    kept = person.cookies["gnlc_session"]
    csrf = csrf_of(person, "/")
    assert person.delete("/api/v1/session").status_code == 403  # no CSRF header
    done = person.delete("/api/v1/session", headers={"X-CSRF-Token": csrf})
    assert done.status_code == 204
    with replay(live, kept) as attacker:
        assert not signed_in_page(attacker)
    person.close()


# --- what ends every session of a user -----------------------------------------------------


def test_a_new_password_ends_every_session_of_the_user(live: Live) -> None:
    email = "jelgava@example.org"
    person = browser(live, email)
    kept = person.cookies["gnlc_session"]
    client, _ = api_client(live, email)
    admin = browser(live, "admin@example.org")
    sent = admin.post(
        f"/admin/users/{user_id(live, email)}/invite", data={"csrf_token": csrf_of(admin, "/")}
    )
    assert sent.status_code == 303
    with live.factory() as session:
        mail = session.scalars(
            select(OutboxMessage).where(OutboxMessage.occasion == "user_invitation")
        ).one()
    link = re.search(r"/invitation/[\w-]+", mail.body_text)
    assert link
    # Sessions last until the password actually changes.
    assert signed_in_page(person) and client.get("/api/v1/me").status_code == 200
    new_password = "Quiet-harbour-lantern-1987"
    with httpx.Client(base_url=live.url, follow_redirects=False, timeout=30) as invitee:
        token = csrf_of(invitee, link.group(0))
        accepted = invitee.post(
            link.group(0),
            data={"csrf_token": token, "password": new_password, "repeat": new_password},
        )
        assert accepted.status_code == 303, accepted.text[:500]
        assert signed_in_page(invitee)  # the new session works
        with replay(live, kept) as attacker:
            assert not signed_in_page(attacker)
        assert client.get("/api/v1/me").status_code == 401
        assert signed_in_page(invitee)
    assert signed_in_page(admin)  # nobody else was signed out
    for c in (person, client, admin):
        c.close()


def test_deactivation_and_a_change_of_role_end_every_session(live: Live) -> None:
    lyon = browser(live, "lyon@example.org")
    lyon_api, _ = api_client(live, "lyon@example.org")
    fr = browser(live, "commission.fr@example.org")
    fr_api, _ = api_client(live, "commission.fr@example.org")
    bystander, _ = api_client(live, "institute@example.org")
    later = START + timedelta(minutes=1)
    with transaction(live.factory) as session:
        users.change_user(session, ADMIN, "lyon@example.org", active=False, now=later)
    assert not signed_in_page(lyon)
    assert lyon_api.get("/api/v1/me").status_code == 401
    assert {r.revoked_at for r in rows_of(live, "lyon@example.org")} == {later}
    # The role changes by command; the Commission officer becomes an Institute officer.
    runner = CliRunner(
        env={"GNLC_DATABASE__URL": live.settings.database.url, "GNLC_MAIL__MAILDIR": "unused"}
    )
    result = runner.invoke(
        gnlc, ["user", "set", "commission.fr@example.org", "--role", "institute"]
    )
    assert result.exit_code == 0, result.output
    assert "institute" in result.output and "sign in again" in result.output
    assert not signed_in_page(fr)
    assert fr_api.get("/api/v1/me").status_code == 401
    again, _ = api_client(live, "commission.fr@example.org")
    assert again.get("/api/v1/me").json()["role"] == "institute"
    # Neither the deactivated account nor the unchanged one are affected otherwise.
    assert bystander.get("/api/v1/me").status_code == 200
    refused = httpx.post(
        f"{live.url}/api/v1/session", json={"email": "lyon@example.org", "password": PASSWORD}
    )
    assert refused.status_code == 401
    # Changing nothing ends nothing.
    with transaction(live.factory) as session:
        users.change_user(session, ADMIN, "institute@example.org", now=later)
    assert bystander.get("/api/v1/me").status_code == 200
    for c in (lyon, lyon_api, fr, fr_api, again, bystander):
        c.close()


def test_no_token_signs_in_an_inactive_or_password_less_user(live: Live) -> None:
    client, _ = api_client(live, "valmiera@example.org")
    with transaction(live.factory) as session:
        # Not through the service: even then the token stops working.
        session.get(User, user_id(live, "valmiera@example.org")).active = False  # type: ignore[union-attr]
    assert client.get("/api/v1/me").status_code == 401
    with transaction(live.factory) as session:
        user = users.create_user(
            session, ADMIN, email="new@example.org", name="New", role="admin", now=START
        )
        api = sessions.start(session, live.settings, user.id, sessions.API, now=START)
        web = sessions.start(session, live.settings, user.id, sessions.BROWSER, now=START)
    assert user.password_hash is None
    headers = {"Authorization": f"Bearer {api.token}"}
    assert httpx.get(f"{live.url}/api/v1/me", headers=headers).status_code == 401
    body = {"email": "x@example.org", "name": "X", "role": "admin"}
    made = httpx.post(f"{live.url}/api/v1/users", json=body, headers=headers)
    assert made.status_code == 401
    # A browser session's token is not an API token.
    with transaction(live.factory) as session:
        jelgava = sessions.start(
            session,
            live.settings,
            user_id(live, "jelgava@example.org"),
            sessions.BROWSER,
            now=START,
        )
    for token in (web.token, jelgava.token):
        refused = httpx.get(f"{live.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
    client.close()


def test_a_token_forged_with_a_known_key_is_refused(live: Live) -> None:
    with transaction(live.factory) as session:
        user = users.create_user(
            session, ADMIN, email="new@example.org", name="New", role="admin", now=START
        )
    # The old format: the placeholder key, the user's id and the fingerprint of no password.
    old = URLSafeTimedSerializer(sessions.PLACEHOLDER_KEY, salt="gnlc-session").dumps(
        {"csrf": "api", "uid": user.id, "pw": hashlib.sha256(b"").hexdigest()[:16]}
    )
    # The new format signed with the portal's own key (as if it had leaked).
    key = demo_key_file(live.settings).read_text().strip()
    new = URLSafeTimedSerializer(key, salt="gnlc-session-v2").dumps(
        {"csrf": "x", "sid": "gnlc_guessed-token"}
    )
    body = {"email": "attacker@example.org", "name": "Attacker", "role": "admin"}
    for forged in (old, new):
        headers = {"Authorization": f"Bearer {forged}"}
        assert httpx.get(f"{live.url}/api/v1/me", headers=headers).status_code == 401
        made = httpx.post(f"{live.url}/api/v1/users", json=body, headers=headers)
        assert made.status_code == 401
        with replay(live, forged) as attacker:
            assert not signed_in_page(attacker)
            token = csrf_of(attacker, "/login")
            posted = attacker.post("/api/v1/users", json=body, headers={"X-CSRF-Token": token})
            assert posted.status_code == 401
    with live.factory() as session:
        assert session.scalars(select(User).where(User.email == body["email"])).first() is None


# --- lifetimes -----------------------------------------------------------------------------


def test_a_browser_session_ends_when_idle_and_at_its_absolute_limit(live: Live) -> None:
    idle = timedelta(minutes=live.settings.sessions.idle_minutes)
    absolute = timedelta(hours=live.settings.sessions.absolute_hours)
    step = idle - timedelta(minutes=1)
    person = browser(live, "jelgava@example.org")
    # Within a few minutes the last use is not written again (page views only read).
    live.clock.moment = START + timedelta(minutes=1)
    assert signed_in_page(person)
    assert rows_of(live, "jelgava@example.org")[0].last_seen_at == START
    # Used just inside the idle limit, again and again: it lasts...
    moment = START
    while moment + step < START + absolute:
        moment += step
        live.clock.moment = moment
        assert signed_in_page(person), moment
        assert rows_of(live, "jelgava@example.org")[0].last_seen_at == moment
    # ...until the absolute limit, however busy.
    live.clock.moment = START + absolute
    assert not signed_in_page(person)
    # Left alone for the idle limit, a fresh session ends.
    fresh = browser(live, "jelgava@example.org")
    assert signed_in_page(fresh)
    live.clock.moment += idle
    assert not signed_in_page(fresh)
    person.close()
    fresh.close()


def test_an_api_token_lasts_its_configured_days(live: Live) -> None:
    days = timedelta(days=live.settings.sessions.api_token_days)
    client, made = api_client(live, "institute@example.org")
    assert made["expires_at"] == (START + days).isoformat().replace("+00:00", "Z")
    live.clock.moment = START + days - timedelta(hours=1)
    assert client.get("/api/v1/me").status_code == 200  # unused for weeks: still fine
    live.clock.moment = START + days
    assert client.get("/api/v1/me").status_code == 401
    client.close()


# --- the token list ------------------------------------------------------------------------


def test_a_user_lists_and_revokes_their_own_api_tokens(live: Live) -> None:
    laptop, first = api_client(live, "jelgava@example.org", "laptop")
    live.clock.moment = START + timedelta(minutes=10)
    script, second = api_client(live, "jelgava@example.org", "nightly script")
    lyon, lyons = api_client(live, "lyon@example.org", "Lyon's")
    page = browser(live, "jelgava@example.org")
    live.clock.moment = START + timedelta(minutes=20)
    listed = laptop.get("/api/v1/tokens")
    assert listed.status_code == 200
    tokens = listed.json()
    assert [(t["id"], t["label"], t["current"]) for t in tokens] == [
        (second["id"], "nightly script", False),
        (first["id"], "laptop", True),
    ]
    assert "token" not in tokens[0]
    assert tokens[0]["last_used_at"] == tokens[0]["created_at"] == "2027-03-10T09:10:00Z"
    assert tokens[1]["created_at"] == "2027-03-10T09:00:00Z"
    assert tokens[1]["last_used_at"] == "2027-03-10T09:20:00Z"  # this very request
    # Another person's token, or a browser session, is not one of mine.
    assert laptop.delete(f"/api/v1/tokens/{lyons['id']}").status_code == 404
    browser_id = rows_of(live, "jelgava@example.org")[-1].id
    assert laptop.delete(f"/api/v1/tokens/{browser_id}").status_code == 404
    assert lyon.get("/api/v1/me").status_code == 200 and signed_in_page(page)
    assert laptop.delete(f"/api/v1/tokens/{second['id']}").status_code == 204
    assert script.get("/api/v1/me").status_code == 401
    assert laptop.delete(f"/api/v1/tokens/{second['id']}").status_code == 404
    assert [t["id"] for t in laptop.get("/api/v1/tokens").json()] == [first["id"]]
    # The browser sees the same list through the API with its cookie.
    seen = page.get("/api/v1/tokens").json()
    assert [(t["label"], t["current"]) for t in seen] == [("laptop", False)]
    for c in (laptop, script, lyon, page):
        c.close()


# --- the secret key ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "is empty"),
        (sessions.PLACEHOLDER_KEY, "placeholder"),
        ("a-short-key", "too short (11 characters"),
    ],
)
def test_outside_demo_mode_the_portal_refuses_a_poor_key(
    tmp_path: Path, key: str, problem: str
) -> None:
    settings = load_settings({}).with_overrides(
        web={"demo_data": False, "secret_key": key},
        mail={"maildir": str(tmp_path / "mail")},
        database={"url": f"sqlite:///{tmp_path / 'gnlc.db'}"},
    )
    with pytest.raises(sessions.SecretKeyError) as refused:
        create_app(settings)
    message = str(refused.value)
    assert "\n" not in message
    assert problem in message
    assert "[web] secret_key" in message and "GNLC_WEB__SECRET_KEY" in message
    assert "`gnlc secret`" in message
    assert not demo_key_file(settings).exists()
    runner = CliRunner(
        env={
            "GNLC_DATABASE__URL": settings.database.url,
            "GNLC_MAIL__MAILDIR": str(tmp_path / "mail"),
            "GNLC_WEB__DEMO_DATA": "false",
            "GNLC_WEB__SECRET_KEY": key,
        }
    )
    result = runner.invoke(gnlc, ["serve", "--no-scheduler"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    [line] = [line for line in result.output.splitlines() if line.strip()]
    assert "[web] secret_key" in line and problem in line and "gnlc secret" in line
    assert not (tmp_path / "gnlc.db").exists()  # refused before touching the database


def test_a_good_key_is_used_as_given(tmp_path: Path) -> None:
    settings = load_settings({}).with_overrides(
        web={"demo_data": False, "secret_key": GOOD_KEY}, mail={"maildir": str(tmp_path / "m")}
    )
    assert sessions.resolve_secret_key(settings) == GOOD_KEY
    demo = settings.with_overrides(web={"demo_data": True})
    assert sessions.resolve_secret_key(demo) == GOOD_KEY
    assert not demo_key_file(settings).exists()
    # In demo mode a key that is set but short is a mistake, not a request for the demo's.
    short = settings.with_overrides(web={"demo_data": True, "secret_key": "short"})
    with pytest.raises(sessions.SecretKeyError):
        sessions.resolve_secret_key(short)


def test_the_demo_makes_its_own_key_once_and_keeps_it(tmp_path: Path) -> None:
    settings = load_settings({}).with_overrides(mail={"maildir": str(tmp_path / "var" / "mail")})
    path = tmp_path / "var" / "secret_key"
    assert demo_key_file(settings) == path and not path.exists()
    key = sessions.resolve_secret_key(settings)
    assert sessions.key_problem(key) is None and key != sessions.PLACEHOLDER_KEY
    assert path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sessions.resolve_secret_key(settings) == key  # a later run: the same key
    placeholder = settings.with_overrides(web={"secret_key": sessions.PLACEHOLDER_KEY})
    assert sessions.resolve_secret_key(placeholder) == key
    # Another installation gets a key of its own.
    other = settings.with_overrides(mail={"maildir": str(tmp_path / "other" / "mail")})
    assert sessions.resolve_secret_key(other) != key
    # A damaged file is replaced by a fresh key.
    path.write_text("short\n")
    fresh = sessions.resolve_secret_key(settings)
    assert fresh != key and sessions.key_problem(fresh) is None
    assert path.read_text().strip() == fresh
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".secret_key")]


def test_an_unwritable_place_for_the_demo_key_is_one_clear_line(tmp_path: Path) -> None:
    in_the_way = tmp_path / "var"
    in_the_way.write_text("a file where the data folder should be")
    settings = load_settings({}).with_overrides(mail={"maildir": str(in_the_way / "mail")})
    with pytest.raises(sessions.SecretKeyError) as refused:
        sessions.resolve_secret_key(settings)
    message = str(refused.value)
    assert "\n" not in message
    assert f"make {in_the_way} writable" in message and "gnlc secret" in message


def test_gnlc_secret_prints_a_new_key_each_time() -> None:
    runner = CliRunner()
    first = runner.invoke(gnlc, ["secret"])
    second = runner.invoke(gnlc, ["secret"])
    assert first.exit_code == 0 and second.exit_code == 0
    key = first.output.strip()
    assert sessions.key_problem(key) is None and len(key) == 64
    assert key != second.output.strip()
