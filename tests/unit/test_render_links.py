"""User text in official mail is never a link: not made one by us, and defused so that
mail clients do not auto-link it either. The portal's own links stay links; the plain
text keeps every value as written."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from notifications.render import ZWJ, defused, occasions, render
from tests.unit.test_render import context_for, variables

HOSTILE = (
    "Please see https://evil.example/login?next=1 or www.evil.example, "
    "and write to boss@evil.example.\n\nhttp://second.example too."
)
PORTAL = "http://127.0.0.1:8000/applications/42"
RETURNED: dict[str, Any] = {
    "city": "Jelgava",
    "commission": "Latvian National Commission for UNESCO",
    "application_id": 42,
    "call": "2027",
    "comment": HOSTILE,
    "commission_deadline": date(2027, 5, 30),
    "timezone": "Europe/Riga",
    "url": PORTAL,
}
#: What a mail client would turn into a link: a scheme, www., a domain or an address.
LINKABLE = re.compile(r"https?://|www\.\w|\w\.(?:example|org|com)\b|\w@\w")


def paragraph_with(html: str, needle: str) -> str:
    found = [str(p) for p in re.findall(r"<p>(.*?)</p>", html, re.S) if needle in p]
    assert found, f"no paragraph with {needle!r}"
    return found[0]


def test_a_url_in_a_comment_is_not_a_link_and_the_portal_url_is() -> None:
    rendered = render("application_returned", "en", RETURNED)
    anchors = re.findall(r'<a href="([^"]+)">([^<]+)</a>', rendered.html)
    assert anchors == [(PORTAL, PORTAL)]
    comment = paragraph_with(rendered.html, "Please see") + paragraph_with(rendered.html, "too.")
    assert "<a" not in comment
    assert not LINKABLE.search(comment), comment
    # Still reads the same: only invisible joiners were added.
    assert comment.replace(ZWJ, "").replace("&amp;", "&").startswith("Please see https://evil")


def test_the_plain_text_keeps_the_comment_exactly() -> None:
    rendered = render("application_returned", "en", RETURNED)
    assert HOSTILE in rendered.text
    assert ZWJ not in rendered.text and ZWJ not in rendered.subject
    assert PORTAL in rendered.text


def test_a_city_name_that_looks_like_a_site_is_defused_in_every_occasion() -> None:
    for occasion in occasions():
        if "city" not in variables(occasion):
            continue
        context = {**context_for(occasion), "city": "evil.example"}
        rendered = render(occasion, "en", context)
        assert "evil.example" not in rendered.html, occasion
        assert f"evil.{ZWJ}example" in rendered.html, occasion
        assert "evil.example" in rendered.text, occasion


def test_only_system_urls_are_links_even_in_lists() -> None:
    context = context_for("commission_reminder")
    assert "pending" in variables("commission_reminder")
    item = {
        "city": "https://evil.example",
        "application_id": 7,
        "url": "http://127.0.0.1:8000/applications/7",
        "submitted_on": date(2027, 3, 20),
    }
    rendered = render("commission_reminder", "en", {**context, "pending": [item]})
    hrefs = re.findall(r'<a href="([^"]+)"', rendered.html)
    assert "http://127.0.0.1:8000/applications/7" in hrefs
    assert all("evil" not in h for h in hrefs)
    assert "https://evil.example" in rendered.text


def test_a_forged_mark_in_user_text_cannot_make_a_link() -> None:
    forged = "\ue001https://evil.example\ue002"
    rendered = render("application_returned", "en", {**RETURNED, "comment": forged})
    assert re.findall(r'<a href="([^"]+)"', rendered.html) == [PORTAL]
    assert "\ue001" not in rendered.text and "\ue001" not in rendered.html


def test_a_system_url_that_is_not_a_web_address_is_not_linked() -> None:
    rendered = render("application_returned", "en", {**RETURNED, "url": "javascript:alert(1)"})
    assert "<a " not in rendered.html


def test_defused_text_reads_the_same() -> None:
    text = "Mail a@b.org or see http://x.example/a.b, version 3.5."
    assert defused(text).replace(ZWJ, "") == text
    assert not LINKABLE.search(defused(text).replace("x.", "").replace(".org", ""))
    assert "a@" + ZWJ + "b." + ZWJ + "org" in defused(text)


def test_invitation_link_stays_a_link_with_the_name_defused() -> None:
    context = {
        "name": "www.evil.example",
        "role": "city",
        "url": "http://127.0.0.1:8000/invitation/abc123",
        "expires_at": datetime(2027, 3, 8, 12, 0, tzinfo=UTC),
        "network": "UNESCO Global Network of Learning Cities",
    }
    rendered = render("user_invitation", "en", context)
    assert re.findall(r'<a href="([^"]+)"', rendered.html) == [context["url"]]
    assert "www.evil.example" not in rendered.html
    assert "Dear www.evil.example," in rendered.text
