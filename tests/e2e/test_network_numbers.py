"""The public directory (no sign-in, French, on a phone) and the Institute's statistics
(charts drawn, their tables beside them) in a real Chromium, checked by axe."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import DESKTOP, PHONE, shot, sign_in
from tests.e2e.live import Live, live_portal
from workflow.db import upgrade

START = datetime(2027, 3, 10, 9, tzinfo=UTC)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder: Path = tmp_path_factory.mktemp("numbers")
    url = f"sqlite:///{folder / 'gnlc.db'}"
    upgrade(url)
    with live_portal(url, folder, START) as portal:
        yield portal


def test_directory_and_statistics_read_at_a_glance(live: Live, browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{live.url}/login")
    page.click("a[href='/directory'] >> nth=0")
    page.wait_for_url("**/directory")
    assert page.locator("h1").inner_text() == "Villes membres du réseau"
    page.select_option("#d-region", "europe_north_america")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/directory?*region=europe_north_america*")
    assert "Lettonie" in page.locator("caption").first.inner_text()
    assert_accessible(page)
    shot(page, "directory-fr-phone", "numbers")
    context.close()

    page = sign_in(browser, live, "institute@example.org", DESKTOP, "en")
    page.goto(f"{live.url}/statistics")
    chart = page.locator("img[src^='/statistics/chart/growth.svg']")
    chart.wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.chart img')].every(i => i.complete)"
    )
    assert chart.evaluate("img => img.naturalWidth") > 0  # drawn, not blocked
    assert page.locator("table caption").count() >= 2
    assert_accessible(page)
    shot(page, "statistics-en", "numbers")
    page.context.close()
