"""Pages kept while nothing changed (web/page_cache.py), against a live portal on SQLite
and on PostgreSQL: a page seen again is sent as it was drawn, and never once anything
was written, by whoever, through whichever connection: the portal's own pool, another
engine (the command line, the scheduler), or plain SQL in another connection, also
while people read at the same time. Each person gets their own pages, in their own
language; a session that ended is refused though its page is kept; a refused form's
note is shown once; time moves the page on; 0 MB turns it off."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.e2e.clients import csrf_of
from tests.e2e.live import Live, live_portal
from web.demo import PASSWORD
from web.metrics import PAGES
from web.page_cache import Kept, Pages
from workflow.db import make_engine, session_factory, transaction

START = datetime(2027, 3, 10, 9, tzinfo=UTC)
COMMISSION = "commission.lv@example.org"
NAME = re.compile(r'<span class="who"><a href="/account"[^>]*>([^<]*)</a>')


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(db_url, tmp_path, START) as portal:
        yield portal


_OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def counted(outcome: str) -> float:
    registry = CollectorRegistry()
    registry.register(PAGES)
    return registry.get_sample_value("gnlc_page_cache_requests_total", {"outcome": outcome}) or 0


def signed_in(live: Live, email: str = COMMISSION, **headers: str) -> httpx.Client:
    client = httpx.Client(base_url=live.url, follow_redirects=False, timeout=30, headers=headers)
    _OPEN.append(client)
    token = csrf_of(client)
    signed = client.post(
        "/login", data={"csrf_token": token, "email": email, "password": PASSWORD, "next": "/"}
    )
    assert signed.status_code == 303, signed.text[:300]
    return client


def shown_name(client: httpx.Client, path: str = "/applications") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    found = NAME.search(page.text)
    assert found, "no name in the page's header"
    return found.group(1)


def rename_by_hand(live: Live, email: str, name: str) -> None:
    """SQL typed by hand in a connection of its own, as an operator would."""
    url = make_url(live.settings.database.url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(str(url.database), timeout=30)
        try:
            connection.execute("UPDATE users SET name = ? WHERE email = ?", (name, email))
            connection.commit()
        finally:
            connection.close()
        return
    with psycopg.connect(dbname=url.database, autocommit=True) as pg:
        pg.execute("UPDATE users SET name = %s WHERE email = %s", (name, email))


def rename_through(live: Live, email: str, name: str, *, own_pool: bool) -> None:
    """Through the portal's own pool, or through another engine (another process's)."""
    url = live.settings.database.url
    factory = live.factory if own_pool else session_factory(make_engine(url))
    with transaction(factory) as session:
        session.execute(
            text("UPDATE users SET name = :name WHERE email = :email"),
            {"name": name, "email": email},
        )
    if not own_pool:
        factory.kw["bind"].dispose()


def test_a_page_seen_again_is_sent_as_it_was_drawn(live: Live) -> None:
    client = signed_in(live)
    first = client.get("/applications")
    hits = counted("hit")
    again = client.get("/applications")
    assert again.status_code == 200
    assert again.text == first.text
    assert counted("hit") == hits + 1
    # The headers every answer carries are there on a kept page too.
    assert again.headers["cache-control"] == "no-store"
    assert "content-security-policy" in again.headers


@pytest.mark.parametrize("how", ["by hand", "own pool", "another engine"])
def test_a_change_shows_at_once_whoever_wrote_it(live: Live, how: str) -> None:
    client = signed_in(live)
    before = shown_name(client)
    assert shown_name(client) == before  # kept now
    for turn in range(3):
        name = f"Renamed {how} {turn}"
        if how == "by hand":
            rename_by_hand(live, COMMISSION, name)
        else:
            rename_through(live, COMMISSION, name, own_pool=how == "own pool")
        assert shown_name(client) == name
        assert shown_name(client) == name


def test_changes_during_reads_always_show(live: Live) -> None:
    """A writer commits new names one after another while two people read the page over
    and over: a read begun after a commit shows that name or a newer one, never an older."""
    committed = [-1]
    errors: list[str] = []
    stop = threading.Event()

    def write() -> None:
        try:
            for turn in range(80):
                rename_through(live, COMMISSION, f"Officer {turn}", own_pool=turn % 2 == 0)
                committed[0] = turn
        finally:
            stop.set()

    def read() -> None:
        client = signed_in(live)
        while not stop.is_set():
            at_least = committed[0]
            name = shown_name(client)
            shown = int(name.split()[-1]) if name.startswith("Officer ") else -1
            if shown < at_least:
                errors.append(f"{name!r} shown after 'Officer {at_least}' was committed")

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    write()
    for reader in readers:
        reader.join(timeout=60)
    assert not errors, errors[:3]
    assert shown_name(signed_in(live)) == "Officer 79"


def test_each_person_gets_their_own_page_in_their_own_language(live: Live) -> None:
    with transaction(live.factory) as session:
        for email, language in ((COMMISSION, "lv"), ("commission.fr@example.org", "fr")):
            session.execute(
                text("UPDATE users SET language = :language WHERE email = :email"),
                {"language": language, "email": email},
            )
    latvia = signed_in(live)
    france = signed_in(live, "commission.fr@example.org")
    for _ in range(2):  # drawn, then kept
        ours, theirs = latvia.get("/applications").text, france.get("/applications").text
        assert '<html lang="lv"' in ours
        assert '<html lang="fr"' in theirs
        assert shown_name(latvia) != shown_name(france)
    assert counted("hit") >= 2


def test_a_session_that_ended_is_refused_though_its_page_is_kept(live: Live) -> None:
    client = signed_in(live)
    assert client.get("/applications").status_code == 200
    assert client.get("/applications").status_code == 200  # kept
    idle = timedelta(minutes=live.settings.sessions.idle_minutes)
    live.clock.moment = START + idle + timedelta(seconds=1)
    gone = client.get("/applications")
    assert gone.status_code == 303
    assert gone.headers["location"].startswith("/login")


def test_time_moves_the_page_on(live: Live) -> None:
    client = signed_in(live)
    client.get("/applications")
    client.get("/applications")
    drawn, hits = counted("miss"), counted("hit")
    live.clock.moment = START + timedelta(minutes=1)
    client.get("/applications")
    assert (counted("miss"), counted("hit")) == (drawn + 1, hits), counted("pass")


def test_a_refused_forms_note_is_shown_once(live: Live) -> None:
    client = signed_in(live)
    page = client.get("/account")
    assert page.status_code == 200
    assert client.get("/account").text == page.text  # kept
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    refused = client.post(
        "/account/password",
        data={"csrf_token": csrf.group(1), "current": "wrong", "password": "x", "repeat": "y"},
    )
    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/account")
    noted = client.get(refused.headers["location"])
    assert 'class="alert' in noted.text
    assert 'class="alert' not in client.get("/account").text


def test_nothing_is_kept_with_no_memory_for_it(db_url: str, tmp_path: Path) -> None:
    with live_portal(db_url, tmp_path, START, web={"page_cache_mb": 0}) as live:
        client = signed_in(live)
        hits = counted("hit")
        for _ in range(3):
            assert client.get("/applications").status_code == 200
        assert counted("hit") == hits


def test_the_oldest_pages_leave_first_within_the_memory_given() -> None:
    pages = Pages(max_bytes=8 * 100)
    for n in range(10):
        pages.put(("page", n), Kept("s", [], b"x" * 90))
    assert pages.used <= 800
    assert pages.get(("page", 0), "s") is None
    assert pages.get(("page", 9), "s") is not None
    assert pages.get(("page", 9), "another stamp") is None  # and it is dropped
    assert ("page", 9) not in pages.entries
    pages.put(("large", 0), Kept("s", [], b"x" * 101))  # over an eighth: not kept
    assert ("large", 0) not in pages.entries
