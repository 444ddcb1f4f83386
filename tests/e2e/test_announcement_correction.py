"""A correction in the browser: the Institute opens a published announcement on a phone,
corrects Jelgava's admission with a reason after a confirmation page; the announcement
says it was corrected and keeps the reason, the membership ends, and the city reads
"not admitted". Every page passes axe and fits the screen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from tests.conftest import INSTITUTE
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import PHONE, sign_in
from tests.e2e.live import Live, live_portal
from tests.integration.test_announcement_pages import _decided
from workflow.db import transaction
from workflow.models import Membership
from workflow.services import announcements

START = datetime(2027, 3, 10, 9, tzinfo=UTC)


@pytest.fixture
def live(sqlite_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(sqlite_url, tmp_path, START) as portal:
        yield portal


def checked(page: Page) -> None:
    page.wait_for_load_state()
    assert_accessible(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page.url


def test_the_institute_corrects_an_announced_admission_on_a_phone(
    live: Live, browser: Browser
) -> None:
    app_id = _decided(live, "Jelgava", "admit")
    with transaction(live.factory) as session:
        found = announcements.announce(
            session, live.settings, INSTITUTE, [app_id], on=date(2027, 3, 10),
            title="New members, March 2027", now=START,
        )  # fmt: skip
        key = found.id
    page = sign_in(browser, live, "institute@example.org", PHONE)
    page.goto(f"{live.url}/announcements")
    checked(page)
    page.click(f"main a[href='/announcements/{key}']")
    checked(page)
    page.click(f"a[href='/announcements/{key}/correct/{app_id}']")
    checked(page)
    assert "The city's membership ends." in page.inner_text("main")
    page.fill("#reason", "The Commission's endorsement was withdrawn.")
    page.click(f"form[action='/announcements/{key}/correct/{app_id}'] button[type=submit]")
    page.wait_for_url("**?done=announcement_corrected")
    checked(page)
    main = page.inner_text("main")
    assert "(corrected once)" in main
    assert "The Commission's endorsement was withdrawn." in main
    with live.factory() as session:
        member = session.scalars(
            select(Membership).where(Membership.application_id == app_id)
        ).one()
        assert member.state == "removed"
    page.context.close()
    city = sign_in(browser, live, "jelgava@example.org", PHONE)
    city.goto(f"{live.url}/applications/{app_id}")
    assert "not admitted" in city.inner_text("h1")
    city.context.close()
