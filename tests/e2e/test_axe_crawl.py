"""axe-core on every page of the portal: per role and language, a browser signs in and
follows every link (and every GET form, as filled) of the navigation and of the pages it
reaches, on the large demo world that ``make run`` serves. Every page answers, has zero axe
violations (with every <details> opened, so confirmation steps are checked too), and is no
wider than the screen, on a desktop and on a phone. Error pages (404, 403, 405) and the
pages behind emailed links (invitation, password reset) are visited on purpose.

Pages of one shape (``/members/<id>``, ``/applications?state=…``) are visited once, not
three hundred times: the English desktop run also tells a filtered, a paged and a plain list apart,
the other runs (French, phone) by path only, so the crawl stays short and every template
is still seen in both languages and on both screens. The pages each run scanned are listed
in test-artifacts/crawl/<run>.txt; the first page of each run is photographed there.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import Browser, Page, ViewportSize
from sqlalchemy import select

from notifications.models import OutboxMessage
from notifications.outbox import Status
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import ARTIFACTS, DESKTOP, PHONE, new_context, shot, sign_in
from tests.e2e.live import Live, live_portal
from web import accounts
from web.demo import load_demo
from workflow.db import transaction, upgrade
from workflow.services import users

START = datetime(2027, 3, 10, 9, tzinfo=UTC)  # the annual call is open
#: addresses the crawl never opens: sign-out, files and feeds, the API, the language switch
SKIP = re.compile(r"^/(logout|static/|api/|favicon|language)|\.(csv|json|ics)$|/signed-form$")
#: the pages no link leads to: error pages, by the status they must answer with
ERRORS = {"/no-such-page": 404, "/applications/999999": 404, "/applications/1/act": 405}

pytestmark = pytest.mark.e2e


@dataclass
class Site:
    live: Live
    #: the tokens of an emailed invitation and password-reset link
    invitation: str
    reset: str


@dataclass
class Crawl:
    pages: list[str]
    shapes: set[str]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder: Path = tmp_path_factory.mktemp("crawl")
    url = f"sqlite:///{folder / 'gnlc.db'}"
    upgrade(url)
    with live_portal(url, folder, START) as live:
        load_demo(live.factory, live.settings, START, world=True)
        with transaction(live.factory) as session:
            admin = users.actor_for(users.user_by_email(session, "admin@example.org"))
            newcomer = users.create_user(
                session, admin, email="newcomer@example.org", name="Newcomer",
                role="institute", now=START,
            )  # fmt: skip
            invitation = accounts.invite(session, live.settings, admin, newcomer.id, now=START)
            reset = accounts.request_reset(
                session, live.settings, "institute@example.org", client="crawl", now=START
            )
            # two mails the server refused: the outbox then offers retry and discard
            for message in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)):
                message.status, message.attempts = Status.FAILED, 3
                message.last_error = "550 5.1.1 mailbox unavailable"
                if message.id > 1:
                    break
        assert reset is not None
        yield Site(live, invitation, reset)


def shape(path: str, query: str, fine: bool) -> str:
    """The shape of an address: ids and tokens become ``#``; when ``fine``, a query says
    whether the list is filtered, or else paged or sorted; otherwise it is ignored."""
    parts = path.split("/")
    token = path.startswith(("/invitation/", "/password/reset/"))
    parts = ["*" if token and i == len(parts) - 1 else p for i, p in enumerate(parts)]
    parts = ["#" if re.search(r"\d", p) else p for p in parts]
    keys = {k for k, _ in parse_qsl(query, keep_blank_values=True)} - {"done"}
    view = "filtered" if keys - {"page", "sort"} else "paged" if keys else ""
    return "/".join(parts) + (f"?{view}" if view and fine else "")


LINKS = """() => {
  const out = [...document.querySelectorAll('a[href]:not([download])')].map(a => a.href);
  for (const f of document.querySelectorAll('form')) {
    if ((f.getAttribute('method') || 'get').toLowerCase() !== 'get') continue;
    const q = new URLSearchParams(new FormData(f)).toString();
    out.push(f.action.split('?')[0] + (q ? '?' + q : ''));
  }
  return out;
}"""


#: the page's width, then every <details> is opened and the width measured again
WIDTHS = """() => {
  const closed = document.documentElement.scrollWidth;
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  return [closed, document.documentElement.scrollWidth];
}"""


def check(page: Page) -> None:
    """Zero axe violations with every <details> open; no wider than the screen, closed
    or open."""
    width = page.viewport_size["width"] if page.viewport_size else 0
    closed, opened = page.evaluate(WIDTHS)
    assert closed <= width, f"{page.url} is {closed}px wide, the screen {width}px"
    assert opened <= width, f"{page.url} (details open) is {opened}px wide, the screen {width}px"
    assert_accessible(page)


def crawl(page: Page, live: Live, seeds: dict[str, int], name: str, *, fine: bool) -> Crawl:
    """Visit the seeds (address: the status it must answer with), each of them, and every
    same-site address reachable from them by GET (each must answer 200), one per shape."""
    queue: deque[tuple[str, bool]] = deque((seed, True) for seed in seeds)
    expect = {urlsplit(seed).path: status for seed, status in seeds.items()}
    shapes: set[str] = set()
    visited: list[str] = []
    problems: list[str] = []
    while queue:
        address, seed = queue.popleft()
        parts = urlsplit(address)
        if parts.netloc and f"{parts.scheme}://{parts.netloc}" != live.url:
            continue
        path = parts.path or "/"
        if SKIP.search(path) or "format=csv" in parts.query:
            continue
        key = shape(path, parts.query, fine)
        if key in shapes and not seed:
            continue
        shapes.add(key)
        target = path + (f"?{parts.query}" if parts.query else "")
        response = page.goto(live.url + target)
        assert response is not None
        if response.status != expect.get(path, 200):
            problems.append(f"{target} answered {response.status}")
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue  # a file or a feed a link offers
        if not visited:
            shot(page, name, "crawl")
        try:
            check(page)
        except AssertionError as problem:  # every page's problems, not only the first
            problems.append(str(problem).split("\nassert")[0])
        visited.append(target)
        queue.extend((link, False) for link in page.evaluate(LINKS))
    scanned(name, visited)
    assert not problems, "\n".join(problems)
    return Crawl(visited, shapes)


ROLES = {
    "city": "city.{lang}@demo.example.org",
    "commission": "commission.{lang}@demo.example.org",
    "institute": "institute.{lang}@demo.example.org",
    "admin": "admin.{lang}@demo.example.org",
    "juror": "juror.{lang}@demo.example.org",
}
VARIANTS = [
    pytest.param(role, lang, DESKTOP, id=f"{role}-{lang}-desktop")
    for role in ROLES
    for lang in ("en", "fr")
] + [
    pytest.param("city", "fr", PHONE, id="city-fr-phone"),
    pytest.param("commission", "en", PHONE, id="commission-en-phone"),
    pytest.param("admin", "fr", PHONE, id="admin-fr-phone"),
]


def scanned(name: str, pages: list[str]) -> None:
    """The pages a run scanned, listed in test-artifacts/crawl/<name>.txt."""
    folder = ARTIFACTS / "crawl"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.txt").write_text("".join(f"{page}\n" for page in pages))


@pytest.mark.parametrize(("role", "lang", "viewport"), VARIANTS)
def test_every_page_of_a_role_is_accessible(
    site: Site, browser: Browser, role: str, lang: str, viewport: ViewportSize
) -> None:
    live = site.live
    screen = "phone" if viewport["width"] < 600 else "desktop"
    name = f"{role}-{lang}-{screen}"
    page = sign_in(browser, live, ROLES[role].format(lang=lang), viewport, lang)
    seeds = {"/": 200, **ERRORS}
    if role != "admin":
        seeds["/admin/users"] = 403
    result = crawl(page, live, seeds, name, fine=(lang, screen) == ("en", "desktop"))
    nav = {"city": 4, "commission": 4, "institute": 5, "admin": 11, "juror": 4}[role]
    assert len(result.pages) > nav + len(ERRORS), result.pages
    assert "/account" in result.pages
    page.context.close()


@pytest.mark.parametrize(
    ("lang", "viewport"),
    [
        pytest.param("en", DESKTOP, id="en-desktop"),
        pytest.param("fr", PHONE, id="fr-phone"),
    ],
)
def test_every_page_before_signing_in_is_accessible(
    site: Site, browser: Browser, lang: str, viewport: ViewportSize
) -> None:
    live = site.live
    context = new_context(browser, viewport, locale=lang)
    page = context.new_page()
    page.goto(f"{live.url}/login")
    if page.evaluate("document.documentElement.lang") != lang:
        page.click(f"header button[name=lang][value={lang}]")
        page.wait_for_load_state()
    assert page.evaluate("document.documentElement.lang") == lang
    seeds = {
        "/login": 200,
        "/password/forgot": 200,
        f"/password/reset/{site.reset}": 200,
        f"/invitation/{site.invitation}": 200,
        "/password/reset/not-a-link": 422,
        "/no-such-page": 404,
    }
    result = crawl(page, live, seeds, f"anonymous-{lang}", fine=True)
    assert len(result.pages) >= len(seeds)
    context.close()
