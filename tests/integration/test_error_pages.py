"""Errors are pages in the reader's language with a way back; the API keeps JSON. And a
refused form's note (web.flash) reaches only the page it was left for, once, in the browser
that holds it, without the passwords."""

from __future__ import annotations

import asyncio
import hashlib
import html
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import select
from starlette.responses import HTMLResponse, Response

from config import load_settings
from tests.e2e.clients import visitor
from tests.e2e.live import Live, live_portal
from web import flash
from web.app import create_app
from web.models import FlashNote
from web.viewer import viewer
from workflow.db import make_engine, session_factory

START = datetime(2027, 3, 10, 9, tzinfo=UTC)


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(db_url, tmp_path, START) as portal:
        yield portal


def _browser(live: Live, lang: str = "en") -> httpx.Client:
    return httpx.Client(base_url=live.url, cookies={"gnlc_lang": lang}, timeout=30)


@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", "This page does not exist"), ("fr", "Cette page n'existe pas")],
)
def test_an_unknown_address_is_a_page_in_the_readers_language(
    live: Live, lang: str, words: str
) -> None:
    with _browser(live, lang) as client:
        answer = client.get("/no/such/page")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert words in html.unescape(answer.text) and 'href="/"' in answer.text
    assert '"detail"' not in answer.text


def test_opening_a_form_address_is_a_page_not_json(live: Live) -> None:
    city = visitor(live.url, "jelgava@example.org")
    try:
        answer = city.pages.get("/logout")  # where the sign-out form posts
        assert answer.status_code == 405
        assert "This address cannot be opened directly" in answer.text
        assert "Method Not Allowed" not in answer.text
        bad = city.pages.get("/applications/not-a-number")
        assert bad.status_code == 422
        assert "This address is not valid" in bad.text
        assert "Input should be" not in bad.text and "path." not in bad.text
    finally:
        city.close()


def test_the_api_keeps_json(live: Live) -> None:
    with _browser(live) as client:
        missing = client.get("/api/v1/no-such-thing")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "Not Found"}
        assert client.get("/api/v1/applications/x").headers["content-type"] == ("application/json")


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[FastAPI]:
    """The portal, with two routes of a form that is always refused."""
    settings = load_settings({}).with_overrides(
        database={"url": db_url}, mail={"maildir": str(tmp_path / "mail")}
    )
    engine = make_engine(db_url)
    portal = create_app(settings, session_factory(engine), clock=lambda: START)

    async def refuse(request: Request) -> Response:
        form = await request.form()
        return flash.back(
            request,
            "/noted?x=1",
            error="Refused: the motivation is too long.",
            values={k: v for k, v in form.items() if isinstance(v, str)},
        )

    def page(request: Request) -> Response:
        viewer(request)  # as every page: the note is read with the viewer
        return HTMLResponse(f"{flash.refusal(request)}|{flash.kept(request)}")

    def away(request: Request) -> Response:
        return flash.back(request, "https://evil.example/x", error="no")

    portal.add_route("/noted", refuse, methods=["POST"])
    portal.add_route("/noted", page, methods=["GET"])
    portal.add_route("/elsewhere", page, methods=["GET"])
    portal.add_route("/away", away, methods=["POST"])
    yield portal
    engine.dispose()


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal")


def test_a_note_is_read_once_by_its_page_in_its_browser(app: FastAPI) -> None:
    async def story() -> None:
        async with _client(app) as mine, _client(app) as other:
            sent = await mine.post(
                "/noted",
                data={"motivation": "Long text", "password": "secret-word", "csrf_token": "t"},
            )
            assert sent.status_code == 303 and sent.headers["location"] == "/noted?x=1"
            token = mine.cookies[flash.COOKIE]
            # The database holds neither the token nor the page's address (it may be secret).
            with app.state.portal.factory() as session:
                stored = session.scalars(select(FlashNote)).all()
            assert [n.path for n in stored] == [hashlib.sha256(b"/noted").hexdigest()]
            assert token not in {n.token_hash for n in stored}
            # Not the page it was left for; not another browser with a guessed token.
            assert (await mine.get("/elsewhere")).text == "None|{}"
            other.cookies.set(flash.COOKIE, "a-guess")
            assert (await other.get("/noted")).text == "None|{}"
            first = (await mine.get("/noted?x=1")).text
            assert first == "Refused: the motivation is too long.|{'motivation': 'Long text'}"
            assert (await mine.get("/noted")).text == "None|{}"  # read once: a reload is fresh
            other.cookies.set(flash.COOKIE, token)
            assert (await other.get("/noted")).text == "None|{}"

    asyncio.run(story())


def test_a_note_never_sends_the_browser_to_another_site(app: FastAPI) -> None:
    async def story() -> str:
        async with _client(app) as client:
            return (await client.post("/away")).headers["location"]

    assert asyncio.run(story()) == "/"
