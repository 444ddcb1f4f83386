"""The browser tests' shared parts: one Chromium for the whole run, contexts per person."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright

from tests.e2e.axe import AXE_SCRIPT, assert_accessible
from tests.e2e.live import Live

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP: ViewportSize = {"width": 1366, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
PASSWORD = "demo-password"


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for the browser tests. Package-scoped, not session-scoped: Playwright's
    sync API keeps an event loop running in the main thread while it is open, and the
    tests after this package call ``asyncio.run``."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium (/usr/bin/chromium) is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def shot(page: Page, name: str, folder: str = "stories") -> None:
    """A full-page screenshot under test-artifacts/<folder>/ (created here)."""
    target = ARTIFACTS / folder
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"), full_page=True)


def open_menu(page: Page) -> None:
    """On a phone the header's menu is closed: open it (a <details>, no script needed)."""
    summary = page.locator("header details.menu > summary")
    if summary.is_visible() and not summary.evaluate("s => s.parentElement.open"):
        summary.click()


def new_context(browser: Browser, viewport: ViewportSize, **options: Any) -> BrowserContext:
    """A browser context with axe-core loaded in every page (see tests/e2e/axe.py)."""
    context = browser.new_context(viewport=viewport, **options)
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE_SCRIPT))
    return context


def sign_in(
    browser: Browser, live: Live, address: str, viewport: ViewportSize, lang: str = "en"
) -> Page:
    """A new browser context signed in as ``address``, switched to ``lang``, checked by axe
    on the first page after signing in (the sign-in page itself is scanned by
    tests/e2e/test_axe_crawl.py, in each language, on a desktop and a phone)."""
    page = new_context(browser, viewport).new_page()
    page.goto(f"{live.url}/")
    assert "/login" in page.url
    page.fill("#email", address)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{live.url}/**")
    assert "/login" not in page.url, f"{address} could not sign in"
    if page.evaluate("document.documentElement.lang") != lang:
        open_menu(page)
        page.click(f"header button[name=lang][value={lang}]")
        page.wait_for_load_state()
    assert page.evaluate("document.documentElement.lang") == lang
    assert_accessible(page)
    return page
