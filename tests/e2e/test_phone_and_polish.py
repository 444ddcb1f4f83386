"""The header on a phone, the menu without script, the favicon, the focus ring's contrast,
and Back after signing out, in a real Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import DESKTOP, PASSWORD, PHONE, shot, sign_in
from tests.e2e.live import Live, live_portal
from workflow.db import upgrade

START = datetime(2027, 3, 10, 9, tzinfo=UTC)
CSS = Path(__file__).resolve().parents[2] / "web" / "static" / "style.css"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder: Path = tmp_path_factory.mktemp("polish")
    url = f"sqlite:///{folder / 'gnlc.db'}"
    upgrade(url)
    with live_portal(url, folder, START) as portal:
        yield portal


def test_phone_header_is_one_line_and_its_menu_opens(live: Live, browser: Browser) -> None:
    page = sign_in(browser, live, "admin@example.org", PHONE)
    header = page.locator("header.top")
    assert header.bounding_box()["height"] < 0.15 * PHONE["height"]  # type: ignore[index]
    nav = page.locator("header nav a[href='/admin/users']")
    assert not nav.is_visible()
    page.click("header details.menu > summary")
    assert nav.is_visible()
    assert_accessible(page)
    shot(page, "phone-menu-open", "polish")
    nav.click()
    page.wait_for_url("**/admin/users")
    page.context.close()


def test_desktop_header_shows_the_navigation_without_a_menu_button(
    live: Live, browser: Browser
) -> None:
    page = sign_in(browser, live, "admin@example.org", DESKTOP)
    assert not page.locator("header details.menu > summary").is_visible()
    assert page.locator("header nav a[href='/admin/users']").is_visible()
    page.context.close()


def test_the_menu_works_without_javascript(live: Live, browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live.url}/login")
    page.fill("#email", "institute@example.org")
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{live.url}/")
    link = page.locator("header nav a[href='/reports']")
    assert not link.is_visible()
    page.click("header details.menu > summary")
    link.click()
    page.wait_for_url("**/reports")
    context.close()


def test_favicon_is_linked_and_answered(live: Live, browser: Browser) -> None:
    with httpx.Client(base_url=live.url) as client:
        ico = client.get("/favicon.ico")
        svg = client.get("/static/favicon.svg")
    assert ico.status_code == 200 and ico.headers["content-type"].startswith("image/svg+xml")
    assert svg.status_code == 200 and svg.content == ico.content
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live.url}/login")
    assert page.locator("link[rel=icon]").get_attribute("href") == "/static/favicon.svg"
    context.close()


def test_back_after_sign_out_shows_no_personal_page(live: Live, browser: Browser) -> None:
    page = sign_in(browser, live, "jelgava@example.org", DESKTOP)
    page.goto(f"{live.url}/applications")
    assert "Jelgava" in page.inner_text("header")
    page.click("header form[action='/logout'] button")
    page.wait_for_url("**/login**")
    page.go_back()
    page.wait_for_load_state()
    assert "/login" in page.url or page.locator("form[action='/login']").count() == 1
    assert "Jelgava" not in page.inner_text("body")
    page.context.close()


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_focus_ring_has_three_to_one_against_every_background() -> None:
    css = CSS.read_text()
    var = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", css))
    for background in ("#ffffff", var["bg"], "#eef2f6"):  # white, the page, a hovered button
        assert contrast(var["focus"], background) >= 3, background
    assert contrast(var["focus-on-brand"], var["brand"]) >= 3


def test_focused_link_gets_the_dark_ring(live: Live, browser: Browser) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{live.url}/login")
    page.focus("#email")
    page.keyboard.press("Tab")
    ring = page.evaluate("getComputedStyle(document.activeElement).outlineColor")
    assert ring == "rgb(27, 31, 36)"  # --focus: #1b1f24
    context.close()
