"""The lists (search, filter, sort, CSV link) and the messages page in a real Chromium:
the filter form narrows the list through the address, a sorted column says so to a
screen reader, and axe finds nothing on these pages, on a phone and on a desktop."""

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
    folder: Path = tmp_path_factory.mktemp("lists")
    url = f"sqlite:///{folder / 'gnlc.db'}"
    upgrade(url)
    with live_portal(url, folder, START) as portal:
        yield portal


def test_institute_filters_and_sorts_the_member_list_in_french(
    live: Live, browser: Browser
) -> None:
    page = sign_in(browser, live, "institute@example.org", DESKTOP, "fr")
    page.goto(f"{live.url}/members")
    page.fill("#f-q", "valm")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/members?*q=valm*")
    assert page.locator("table.table tbody tr").count() == 1
    page.click("th a.sort >> text=Ville")
    page.wait_for_url("**sort=city*")
    assert page.locator("th[aria-sort=ascending]").count() == 1
    assert "q=valm" in page.url  # sorting keeps the search
    assert page.locator("a[download]").get_attribute("href", timeout=5_000) is not None
    assert_accessible(page)
    shot(page, "members-filtered-fr", "lists")
    for path in ("/applications?sort=-city", "/reports", "/messages"):
        page.goto(f"{live.url}{path}")
        assert_accessible(page)
    page.context.close()


def test_city_home_and_messages_on_a_phone(live: Live, browser: Browser) -> None:
    page = sign_in(browser, live, "valmiera@example.org", PHONE, "lv")
    assert page.locator("ul.dates.upcoming li").count() == 3
    shot(page, "city-home-lv-phone", "lists")
    page.goto(f"{live.url}/messages")
    assert_accessible(page)
    page.goto(f"{live.url}/members?year=abc")
    assert page.locator("[role=alert]").count() == 1
    assert_accessible(page)
    page.context.close()
