"""The account pages of a running portal (SQLite and PostgreSQL): "Forgot your password?"
from the sign-in page to a new password, the profile and the password change, and the
order in which a page's language is chosen (account, then switch, then browser).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from notifications.models import OutboxMessage
from tests.e2e.clients import csrf_of, visitor
from tests.e2e.live import Live, live_portal
from web.demo import PASSWORD
from web.security import verify_password
from workflow.models import User

START = datetime(2027, 3, 10, 9, tzinfo=UTC)
CITY = "jelgava@example.org"
NEW_PASSWORD = "Seven amber kites over Riga"
ALERT = re.compile(r'role="alert">(.*?)</div>', re.S)
STATUS = re.compile(r'role="status">(.*?)</div>', re.S)


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(db_url, tmp_path, START) as portal:
        yield portal


def browser(live: Live, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=live.url, timeout=30, headers=headers)


def said(pattern: re.Pattern[str], page: str) -> str:
    found = pattern.search(page)
    assert found, page[:2000]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def set_language(live: Live, email: str, language: str) -> None:
    with live.factory.begin() as session:
        session.execute(update(User).where(User.email == email).values(language=language))


def language_of(live: Live, email: str) -> str:
    with live.factory() as session:
        return session.scalars(select(User.language).where(User.email == email)).one()


def reset_links(live: Live) -> list[str]:
    with live.factory() as session:
        bodies = session.scalars(
            select(OutboxMessage.body_text)
            .where(OutboxMessage.occasion == "password_reset")
            .order_by(OutboxMessage.id)
        ).all()
    return [
        found.group(0).removeprefix(live.url)
        for body in bodies
        if (found := re.search(r"http://127\.0\.0\.1:\d+/password/reset/[\w-]+", body))
    ]


def ask_for_link(client: httpx.Client, email: str) -> httpx.Response:
    token = csrf_of(client, "/password/forgot")
    return client.post("/password/forgot", data={"csrf_token": token, "email": email})


def test_forgotten_password_from_the_sign_in_page_to_a_new_password(live: Live) -> None:
    elsewhere = visitor(live.url, CITY)  # the city is signed in on another device
    with browser(live) as person:
        assert 'href="/password/forgot"' in person.get("/login").text
        # Known or not, the same answer: nothing tells which addresses have accounts.
        unknown = ask_for_link(person, "nobody@example.org")
        known = ask_for_link(person, CITY.upper())
        assert unknown.status_code == known.status_code == 303
        assert unknown.headers["location"] == known.headers["location"]
        sent = person.get(known.headers["location"]).text
        assert "If an account uses this address" in said(STATUS, sent)
        [link] = reset_links(live)
        page = person.get(link)
        assert page.status_code == 200 and CITY in page.text
        # A refusal comes back to the link's page (Post-Redirect-Get), in plain words.
        token = csrf_of(person, link)
        weak = person.post(link, data={"csrf_token": token, "password": "password12",
                                       "repeat": "password12"})  # fmt: skip
        assert weak.status_code == 303 and weak.headers["location"] == link
        assert "too easy to guess" in said(ALERT, person.get(link).text)
        token = csrf_of(person, link)
        done = person.post(
            link, data={"csrf_token": token, "password": NEW_PASSWORD, "repeat": NEW_PASSWORD}
        )
        assert done.status_code == 303 and done.headers["location"] == "/?done=password_reset"
        home = person.get(done.headers["location"])
        assert home.status_code == 200 and "Every other sign-in" in home.text
        # The other device is signed out; the link works once.
        assert elsewhere.pages.get("/").status_code == 303
        used = person.get(link)
        assert used.status_code == 422 and "does not work any more" in html.unescape(used.text)
        assert 'href="/password/forgot"' in used.text
    elsewhere.close()
    with live.factory() as session:
        user = session.scalars(select(User).where(User.email == CITY)).one()
        assert verify_password(user.password_hash, NEW_PASSWORD)


def test_an_expired_link_says_so_in_the_readers_language(live: Live) -> None:
    with browser(live, **{"Accept-Language": "fr"}) as person:
        ask_for_link(person, CITY)
        [link] = reset_links(live)
        live.clock.moment = START + timedelta(minutes=live.settings.signin.reset_link_minutes)
        page = html.unescape(person.get(link).text)
        assert "a expiré" in page and "Demander un nouveau lien" in page


def test_the_profile_and_the_password_change(live: Live) -> None:
    city = visitor(live.url, CITY)
    other = visitor(live.url, CITY)
    try:
        first = city.pages.get("/account")
        assert first.status_code == 200 and 'href="/account"' in first.text  # the header's name
        saved = city.post_form("/account", {"name": "Ilze Kalniņa", "language": "lv"})
        assert saved.status_code == 303 and saved.headers["location"] == "/account?done=profile"
        page = city.pages.get("/account").text
        assert '<html lang="lv">' in page and "Ilze Kalniņa" in page
        assert language_of(live, CITY) == "lv"
        # Refused: back to the profile, the input kept.
        blank = city.post_form("/account", {"name": " ", "language": "fr"})
        assert blank.status_code == 303 and blank.headers["location"] == "/account"
        page = city.pages.get("/account").text
        assert ALERT.search(page) and 'value="fr" lang="fr" selected' in page
        # The password: the current one first; the other sessions end, this one goes on.
        wrong = city.post_form(
            "/account/password",
            {"current": "not it at all", "password": NEW_PASSWORD, "repeat": NEW_PASSWORD},
        )
        assert wrong.status_code == 303
        assert other.pages.get("/").status_code == 200
        changed = city.post_form(
            "/account/password",
            {"current": PASSWORD, "password": NEW_PASSWORD, "repeat": NEW_PASSWORD},
        )
        assert changed.headers["location"] == "/account?done=password_changed"
        assert city.pages.get("/account").status_code == 200
        assert other.pages.get("/").status_code == 303  # signed out
    finally:
        city.close()
        other.close()


def test_the_account_language_wins_once_signed_in(live: Live) -> None:
    # A French browser on its first visit: French sign-in page...
    with browser(live, **{"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.5"}) as person:
        assert '<html lang="fr">' in person.get("/login").text
        # ...and an account with no language yet keeps French after signing in.
        set_language(live, CITY, "")
        token = csrf_of(person)
        person.post("/login", data={"csrf_token": token, "email": CITY, "password": PASSWORD})
        assert '<html lang="fr">' in person.get("/").text
        assert language_of(live, CITY) == "fr"
    # An account in Latvian: Latvian once signed in, whatever the browser or the cookie.
    set_language(live, CITY, "lv")
    with browser(live, **{"Accept-Language": "ru"}) as person:
        person.cookies.set("gnlc_lang", "en")
        assert '<html lang="en">' in person.get("/login").text  # signed out: the switch
        token = csrf_of(person)
        person.post("/login", data={"csrf_token": token, "email": CITY, "password": PASSWORD})
        assert '<html lang="lv">' in person.get("/").text
        # The switch while signed in changes the account too.
        token = csrf_of(person, "/")
        person.post("/language", data={"csrf_token": token, "lang": "ru", "next": "/"})
        assert '<html lang="ru">' in person.get("/").text
        assert language_of(live, CITY) == "ru"
        # Signed out, the pages keep the account's language (the cookie follows it).
        person.post("/logout", data={"csrf_token": csrf_of(person, "/")})
        assert '<html lang="ru">' in person.get("/login").text


def test_a_wrong_password_goes_back_to_the_sign_in_page_in_the_readers_language(
    live: Live,
) -> None:
    with browser(live) as person:
        person.cookies.set("gnlc_lang", "fr")
        token = csrf_of(person)
        wrong = person.post(
            "/login",
            data={"csrf_token": token, "email": CITY, "password": "nope", "next": "/members"},
        )
        assert wrong.status_code == 303
        assert wrong.headers["location"] == "/login?next=%2Fmembers"
        page = person.get(wrong.headers["location"]).text
        assert "Adresse e-mail ou mot de passe incorrect" in said(ALERT, page)
        assert f'value="{CITY}"' in page and 'name="next" value="/members"' in page
