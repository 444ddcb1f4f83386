"""Accounts and security of the portal, over HTTP against a live server: CSRF, cookies,
throttling, invitations, the signed-form upload, and both languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from notifications.models import OutboxMessage
from tests.e2e.clients import Visitor, csrf_of, visitor
from tests.e2e.live import Live, live_portal
from web.demo import PASSWORD
from web.models import LoginAttempt
from workflow.models import User

START = datetime(2027, 3, 10, 9, tzinfo=UTC)


@pytest.fixture
def live(sqlite_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(sqlite_url, tmp_path, START) as portal:
        yield portal


def client(live: Live) -> httpx.Client:
    return httpx.Client(base_url=live.url, follow_redirects=False, timeout=30)


def refused_page(person: Visitor, response: httpx.Response) -> httpx.Response:
    """A page's refusal (Post-Redirect-Get): 303 back to the form's page, which then
    shows the reason and the input."""
    assert response.status_code == 303, response.text[:300]
    assert "done=" not in response.headers["location"]
    return person.pages.get(response.headers["location"])


def test_every_page_post_needs_the_session_csrf_token(live: Live) -> None:
    person = visitor(live.url, "admin@example.org")
    try:
        no_token = person.pages.post("/admin/countries", data={"code": "DE", "name": "X"})
        assert no_token.status_code == 403
        assert "out of date" in no_token.text
        other = visitor(live.url, "institute@example.org")
        stolen = person.pages.post("/admin/countries", data={"csrf_token": other.csrf})
        assert stolen.status_code == 403
        other.close()
        # The sign-in form itself is protected too.
        with client(live) as anonymous:
            anonymous.get("/login")
            refused = anonymous.post("/login", data={"email": "a@b.c", "password": "x"})
            assert refused.status_code == 403
    finally:
        person.close()


def test_the_api_with_a_cookie_needs_the_csrf_header_but_a_token_does_not(live: Live) -> None:
    person = visitor(live.url, "admin@example.org")
    try:
        body = {"name": "Estonia", "commission_email": "unesco@unesco.ee"}
        by_cookie = person.pages.put("/api/v1/countries/EE", json=body)
        assert by_cookie.status_code == 403
        with_header = person.pages.put(
            "/api/v1/countries/EE", json=body, headers={"X-CSRF-Token": person.csrf}
        )
        assert with_header.status_code == 200
        assert person.api.put("/api/v1/countries/EE", json=body).status_code == 200
        forged = person.api.get("/api/v1/me", headers={"Authorization": "Bearer forged.token"})
        assert forged.status_code == 401
    finally:
        person.close()


def test_session_cookie_is_signed_http_only_and_same_site(live: Live) -> None:
    with client(live) as anonymous:
        response = anonymous.get("/login")
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Secure" not in cookie  # the demo runs on http://127.0.0.1
        anonymous.cookies.set("gnlc_session", "tampered")
        assert anonymous.get("/").status_code == 303  # not signed in


def test_five_failures_pause_the_email_for_a_minute(live: Live) -> None:
    with client(live) as person:
        for _ in range(5):
            token = csrf_of(person)
            wrong = person.post(
                "/login",
                data={"csrf_token": token, "email": "jelgava@example.org", "password": "nope"},
            )
            # Post-Redirect-Get: back to the sign-in page, which says why, email kept.
            assert wrong.status_code == 303 and wrong.headers["location"] == "/login"
            page = person.get("/login").text
            assert "Wrong email or password" in page and 'value="jelgava@example.org"' in page
        token = csrf_of(person)
        right = person.post(
            "/login",
            data={"csrf_token": token, "email": "jelgava@example.org", "password": PASSWORD},
        )
        assert right.status_code == 303
        assert "Too many failed sign-ins" in person.get("/login").text
        api = person.post(
            "/api/v1/session", json={"email": "jelgava@example.org", "password": PASSWORD}
        )
        assert api.status_code == 429
        # A script is told when to come back: about the pause, never less than a second.
        pause = live.settings.signin.account_lock_seconds
        assert 1 <= int(api.headers["retry-after"]) <= pause
        # The counting lives in the database; after the short pause the right password works.
        with live.factory() as session:
            failures = session.scalars(
                select(LoginAttempt).where(LoginAttempt.success.is_(False))
            ).all()
            assert len(failures) == 5
        pause = live.settings.signin.account_lock_seconds
        live.clock.moment = START + timedelta(seconds=pause + 1)
        token = csrf_of(person)
        later = person.post(
            "/login",
            data={"csrf_token": token, "email": "jelgava@example.org", "password": PASSWORD},
        )
        assert later.status_code == 303


def test_admin_invites_a_user_who_sets_a_password_once(live: Live) -> None:
    admin = visitor(live.url, "admin@example.org")
    try:
        created = admin.post_form(
            "/admin/users",
            {
                "email": "Officer@Example.org",
                "name": "New Officer",
                "role": "commission",
                "country_code": "FR",
                "language": "fr",
            },
        )
        assert created.status_code == 303
        with live.factory() as session:
            user = session.scalars(select(User).where(User.email == "officer@example.org")).one()
            assert user.password_hash is None and user.country_code == "FR"
            mail = session.scalars(
                select(OutboxMessage).where(OutboxMessage.occasion == "user_invitation")
            ).one()
        assert mail.to_addrs == ["officer@example.org"]
        link = re.search(r"http://127\.0\.0\.1:\d+/invitation/[\w-]+", mail.body_text)
        assert link, mail.body_text
        path = link.group(0).removeprefix(live.url)
        with client(live) as invitee:
            page = invitee.get(path)
            assert page.status_code == 200 and "officer@example.org" in page.text
            token = csrf_of(invitee, path)
            short = invitee.post(
                path, data={"csrf_token": token, "password": "short", "repeat": "short"}
            )
            assert short.status_code == 303 and short.headers["location"] == path
            assert "at least 10 characters" in invitee.get(path).text
            token = csrf_of(invitee, path)
            done = invitee.post(
                path,
                data={
                    "csrf_token": token,
                    "password": "a-long-password",
                    "repeat": "a-long-password",
                },
            )
            assert done.status_code == 303
            home = invitee.get("/")
            assert home.status_code == 200 and "Commission nationale · France" in home.text
            again = invitee.get(path)
            # Used once: refused, in the page's language (French here), never in English.
            assert again.status_code == 422 and 'role="alert"' in again.text
            assert "not valid" not in again.text
        # A new invitation replaces the old link; an expired link says so.
        resent = admin.post_form(f"/admin/users/{user.id}/invite")
        assert resent.status_code == 303
    finally:
        admin.close()


def test_signed_form_must_be_a_pdf_within_the_size_limit(live: Live) -> None:
    city = visitor(live.url, "jelgava@example.org")
    try:
        created = city.post_form(
            "/applications",
            {
                "motivation": "Learning for all.",
                "implementation_plan": "A plan.",
                "signed_by": "The Mayor",
                "challenge_governance": "4",
            },
        )
        assert created.status_code == 303
        app_path = created.headers["location"].split("?")[0]
        upload = f"{app_path}/signed-form"

        def send(name: str, data: bytes) -> httpx.Response:
            return city.pages.post(
                upload,
                data={"csrf_token": city.csrf},
                files={"signed_form": (name, data, "application/pdf")},
            )

        fake = refused_page(city, send("form.pdf", b"MZ\x90\x00 not a pdf at all"))
        assert "not a PDF" in fake.text
        big = send("big.pdf", b"%PDF-1.4\n" + b"0" * live.settings.web.upload_max_bytes)
        assert "at most" in refused_page(city, big).text
        good = send("signed.pdf", b"%PDF-1.4\n%%EOF\n")
        assert good.status_code == 303
        download = city.pages.get(upload)
        assert download.status_code == 200
        assert download.content.startswith(b"%PDF-")
        assert download.headers["content-type"] == "application/pdf"
    finally:
        city.close()


def test_a_draft_over_the_word_limit_is_saved_with_a_warning(live: Live) -> None:
    city = visitor(live.url, "jelgava@example.org")
    try:
        long_text = " ".join(["word"] * 201)
        saved = city.post_form(
            "/applications", {"motivation": long_text, "implementation_plan": "Plan B."}
        )
        assert saved.status_code == 303 and "done=saved" in saved.headers["location"]
        page = city.pages.get(saved.headers["location"]).text
        assert "Motivation: word count 201, at most 200." in page
        assert long_text in page and "Plan B." in page
    finally:
        city.close()


def test_language_switch_is_remembered_on_the_user_and_in_a_cookie(live: Live) -> None:
    city = visitor(live.url, "jelgava@example.org")
    try:
        switched = city.post_form("/language", {"lang": "fr", "next": "/"})
        assert switched.status_code == 303
        assert "gnlc_lang=fr" in switched.headers["set-cookie"]
        page = city.pages.get("/")
        assert '<html lang="fr">' in page.text and "Vos candidatures" in page.text
        with live.factory() as session:
            user = session.scalars(select(User).where(User.email == "jelgava@example.org")).one()
            assert user.language == "fr"
        # A new browser of the same user starts in French from the account.
        again = visitor(live.url, "jelgava@example.org")
        assert "Vos candidatures" in again.pages.get("/").text
        again.close()
        # An offsite "next" is not followed.
        offsite = city.post_form("/language", {"lang": "en", "next": "https://evil.example/"})
        assert offsite.headers["location"] == "/"
    finally:
        city.close()


def test_record_numbers_beyond_the_database_range_are_refused_not_crashed(live: Live) -> None:
    city = visitor(live.url, "jelgava@example.org")
    try:
        huge = "114809374685046030336"
        assert city.pages.get(f"/applications/{huge}").status_code == 422
        assert (
            city.api.post(f"/api/v1/reports/{huge}/submit", json={"summary": "x"}).status_code
            == 422
        )
        refused = refused_page(city, city.post_form("/applications", {"population": huge}))
        assert 'class="alert error"' in refused.text
    finally:
        city.close()
