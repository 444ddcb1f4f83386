"""Every role reads the portal in French, Latvian and Russian with no English left over.

Each role of the demo signs in, chooses a language, follows every link of the pages it
can reach (the menu, the lists, the detail pages) and triggers the common refusals (a
wrong password, an action of another role, a file that is not a PDF, a bad email
address in an admin form). A page fails when it shows a sentence in another language:
words of the English catalogue that the page's own language does not say, or a run of
English function words ("the", "your", "is") in what remains once the data people
typed (city, person and call names, emails, comments, mail they received) is set aside.
"""

from __future__ import annotations

import re
import shutil
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from html import unescape
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import String, Text, select

from tests.e2e.clients import Visitor, visitor
from tests.e2e.live import Live, live_portal
from web.i18n import LOCALES
from workflow.models import Application, Base, City

START = datetime(2027, 3, 10, 9, tzinfo=UTC)
LANGUAGES = ("fr", "lv", "ru")
ROLES = {
    "city": "jelgava@example.org",
    "commission": "commission.lv@example.org",
    "institute": "institute@example.org",
    "admin": "admin@example.org",
}
#: At most this many pages per role and language: every kind of page, not every record.
PAGES = 45
#: Links not to follow: leaving, files, the API, and actions behind a GET.
SKIP = re.compile(r"^/(logout|static|api|favicon)|\.(csv|pdf|svg|ico)$|/signed-form$|[?&]lang=")
LINK = re.compile(r'href="(/[^"#]*)"')
#: Words that are English and no word of French, Latvian or Russian ("to" and "no" are
#: Latvian words, "a", "on" and "or" French ones, so they are not here).
ENGLISH = frozenset(
    ("the", "and", "you", "your", "is", "are", "with", "this", "that", "not", "from", "only",
     "has", "have", "will", "been", "can", "for", "of", "be", "it", "its", "was", "if", "what",
     "which", "there", "their", "by", "at", "an")
)  # fmt: skip
KEY = re.compile(r"[a-z_.]+|[A-Z]{2}")
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdf]")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Live]:
    """One portal for the module: the pages only read, the refusals change nothing."""
    folder = tmp_path_factory.mktemp("languages")
    shutil.copy(sqlite_template, folder / "gnlc.db")
    with live_portal(f"sqlite:///{folder / 'gnlc.db'}", folder, START) as portal:
        yield portal


@cache
def _catalogue(lang: str) -> dict[str, list[str]]:
    with (LOCALES / lang / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalogue = read_po(po, locale=lang)
    found: dict[str, list[str]] = {}
    for m in catalogue:
        if not m.id:
            continue
        key = m.id if isinstance(m.id, str) else m.id[0]
        found[key] = [m.string] if isinstance(m.string, str) else list(m.string or ())
    return found


def english_phrases(lang: str) -> dict[str, str]:
    """Phrases (three words or more) of the English catalogue that ``lang`` does not say
    in English itself: seeing one on a ``lang`` page means an id fell back to English."""
    own = _catalogue(lang)
    phrases: dict[str, str] = {}
    for key, forms in _catalogue("en").items():
        theirs = " ".join(own.get(key, []))
        for form in forms:
            for part in re.split(r"[:;.()·“”\"]|" + PLACEHOLDER.pattern, form):
                part = " ".join(part.split())
                if len(part.split()) >= 3 and len(part) >= 15 and part not in theirs:
                    phrases[part] = key
    return phrases


def people_data(live: Live) -> list[str]:
    """Every text the database holds (what people typed and what was sent to them),
    longest first: it is shown as written, in whatever language it was written."""
    values: set[str] = set()
    with live.factory() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text)]
            if not columns:
                continue
            for row in session.execute(select(*columns)):
                for value in row:
                    if isinstance(value, str):
                        values.update(p.strip() for p in [value, *value.splitlines()])
    # Not the keys the code stores (states, roles, languages): the pages translate those.
    return sorted((v for v in values if len(v) >= 4 and not KEY.fullmatch(v)), key=len,
                  reverse=True)  # fmt: skip


def shown(html: str) -> str:
    """The text a reader sees: scripts, tags and what the fields hold dropped."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r'<nav[^>]*class="[^"]*lang[^"]*".*?</nav>', " ", html, flags=re.S)
    html = re.sub(r"<(input|textarea)\b[^>]*>", " ", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def leftovers(text: str, lang: str, data: list[str]) -> list[str]:
    """The English found in ``text``, a page in ``lang``."""
    for value in data:
        if value in text:
            text = text.replace(value, " ")
    found = [f"{phrase!r} ({key})" for phrase, key in english_phrases(lang).items()
             if phrase in text]  # fmt: skip
    for chunk in re.split(r"[.!?;:·|—()\[\]«»“”]", text):
        words = set(re.findall(r"[^\W\d_]+", chunk.lower()))
        if len(words & ENGLISH) >= 2:
            found.append(repr(chunk.strip()[:120]))
    return found


def speaking(live: Live, email: str | None, lang: str) -> Visitor:
    person = visitor(live.url, email)
    person.pages.cookies.set("gnlc_lang", lang)
    if email is not None:
        person.post_form("/language", {"lang": lang, "next": "/"})  # the account's, too
    return person


def crawl(person: Visitor, limit: int = PAGES) -> dict[str, str]:
    """Pages reachable from the start page: one of each kind of address (``/members/7``
    stands for every member), up to ``limit``."""
    pages: dict[str, str] = {}
    kinds: set[str] = set()
    queue = deque(["/"])
    while queue and len(pages) < limit:
        path = queue.popleft()
        kind = re.sub(r"\d+", "N", path.split("?")[0]) + ("?" if "?" in path else "")
        if path in pages or kind in kinds or SKIP.search(path.split("?")[0]):
            continue
        kinds.add(kind)
        response = person.pages.get(path)
        if response.status_code != 200 or "text/html" not in response.headers.get(
            "content-type", ""
        ):
            continue
        pages[path] = response.text
        queue.extend(unescape(link) for link in LINK.findall(response.text))
    return pages


def after(person: Visitor, response: object) -> str:
    """The page a refused form comes back to (Post-Redirect-Get), as the reader sees it."""
    import httpx

    assert isinstance(response, httpx.Response)
    assert response.status_code in (303, 302), response.text[:300]
    html = person.pages.get(response.headers["location"]).text
    refused = re.search(r'<div class="alert error" role="alert">(.*?)</div>', html, re.S)
    assert refused, f"no refusal shown on {response.headers['location']}"
    return shown(refused.group(1))


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_page_of_every_role_speaks_the_language(live: Live, role: str, lang: str) -> None:
    data = people_data(live)
    person = speaking(live, ROLES[role], lang)
    try:
        pages = crawl(person)
        assert len(pages) >= 4, sorted(pages)  # the start page, the menu's pages
        problems = {}
        for path, html in pages.items():
            assert f'lang="{lang}"' in html, path
            found = leftovers(shown(html), lang, data)
            if found:
                problems[path] = found
        assert not problems, f"{role} in {lang}: English left on {problems}"
    finally:
        person.close()


def _application_of(live: Live, city: str) -> int | None:
    with live.factory() as session:
        return session.scalars(
            select(Application.id).join(City).where(City.name == city).order_by(Application.id)
        ).first()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_common_refusals_speak_the_language(live: Live, lang: str, tmp_path: Path) -> None:
    data = people_data(live)
    said: dict[str, str] = {}
    anonymous = speaking(live, None, lang)
    try:
        wrong = anonymous.post_form(
            "/login", {"email": "jelgava@example.org", "password": "not it", "next": "/"}
        )
        said["wrong password"] = after(anonymous, wrong)
    finally:
        anonymous.close()
    city = speaking(live, ROLES["city"], lang)
    try:
        app_id = _application_of(live, "Jelgava")
        if app_id is None:
            created = city.post_form("/applications", {"population": "55000"})
            found = re.search(r"/applications/(\d+)", created.headers.get("location", ""))
            assert found, created.text[:300]
            app_id = int(found.group(1))
        page = f"/applications/{app_id}"
        said["another role's action"] = after(
            city, city.post_form(f"{page}/act", {"trigger": "admit"})
        )
        not_pdf = city.pages.post(
            f"{page}/signed-form",
            data={"csrf_token": city.csrf},
            files={"signed_form": ("form.pdf", b"hello, not a PDF", "application/pdf")},
        )
        said["not a PDF"] = after(city, not_pdf)
        bad_email = city.post_form(f"{page}/edit", {"contact_email": "nowhere"})
        said["a bad email in the form"] = after(city, bad_email)
    finally:
        city.close()
    admin = speaking(live, ROLES["admin"], lang)
    try:
        bad = admin.post_form(
            "/admin/countries",
            {"code": "LV", "name": "Latvia", "commission_name": "LNK",
             "commission_email": "nowhere", "language": "lv", "timezone": "Europe/Riga"},
        )  # fmt: skip
        said["a bad email in an admin form"] = after(admin, bad)
    finally:
        admin.close()
    problems = {what: leftovers(text, lang, data) for what, text in said.items()}
    assert not {w: p for w, p in problems.items() if p}, f"{lang}: English left in {problems}"
