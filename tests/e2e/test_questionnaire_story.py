"""A member's progress report as a questionnaire, in a real Chromium: Valmiera (a member
since 2016, docs/domain.md "Progress reports") fills its 2028 report on a phone, saves a
draft, is told which answers are missing, attaches a supporting PDF and submits; the
Institute comments on a section and returns it; the city sees the comment beside its
section, corrects and resubmits; the Institute accepts. Both versions stay readable, the
printable view shows the answers, and the cycle's CSV has the report's row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import sign_in
from tests.e2e.live import Live, live_portal
from workflow.sweep import sweep

CHROMIUM = Path("/usr/bin/chromium")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is not installed"
    ),
]


@pytest.fixture
def live(sqlite_url: str, tmp_path: Path) -> Iterator[Live]:
    # 1 February 2028: Valmiera's report due 31 March 2028 is open once the sweep has run.
    with live_portal(sqlite_url, tmp_path, datetime(2028, 2, 1, 9, tzinfo=UTC)) as portal:
        with ThreadPoolExecutor(1) as pool:  # Playwright's event loop runs in this thread
            pool.submit(sweep, portal.factory, portal.settings, now=portal.clock()).result()
        yield portal


def _open_report(page: Page) -> None:
    page.click("main a[href^='/members/']")
    page.click("a[href^='/reports/']:has-text('2028')")
    page.click("a[href$='/questionnaire']")
    page.wait_for_url("**/questionnaire")


def test_a_city_fills_in_its_questionnaire_and_resubmits_after_comments(
    live: Live, browser: Browser, tmp_path: Path
) -> None:
    city = sign_in(browser, live, "valmiera@example.org", PHONE)  # type: ignore[arg-type]
    _open_report(city)
    report_url = city.url.split("?")[0]
    assert "The main achievements of your learning city" in city.inner_text("main")

    # A draft with one answer saves; submitting it names every missing required answer.
    city.fill("#q_highlights", "Two learning festivals and 40 new adult courses.")
    city.click("button[name=submit][value=no]")
    city.wait_for_url("**?done=quest_saved")
    assert city.input_value("#q_highlights").startswith("Two learning festivals")
    city.click("button[name=submit][value=yes]")
    city.wait_for_url(report_url)
    refusal = city.inner_text("[role=alert]")
    assert "Your plans for the next two years" in refusal
    assert "The main achievements" not in refusal  # that one is answered
    assert_accessible(city)

    # Every answer, and a supporting document checked by its content.
    city.fill("#q_learners_reached", "12 500")
    city.select_option("#q_main_area", index=1)
    city.fill("#q_actions", "Family reading circles in every district.")
    city.fill("#q_partners", "The regional university and the public libraries.")
    city.select_option("#q_network_exchange", "yes")
    city.fill("#q_monitoring", "A yearly survey of adult participation.")
    city.fill("#q_challenges", "Funding for rural districts.")
    city.fill("#q_plans", "Two more centres and a learning festival.")
    city.click("button[name=submit][value=no]")
    city.wait_for_url("**?done=quest_saved")
    fake = tmp_path / "evidence.pdf"
    fake.write_bytes(b"MZ\x90\x00 this is not a PDF")
    file_input = city.locator("form[enctype='multipart/form-data'] input[type=file]").first
    file_input.set_input_files(str(fake))
    city.locator("form[enctype='multipart/form-data'] button[type=submit]").first.click()
    city.wait_for_url(report_url)
    assert city.locator("[role=alert]").count() == 1  # refused by its content
    pdf = tmp_path / "festival-programme.pdf"
    pdf.write_bytes(PDF)
    file_input = city.locator("form[enctype='multipart/form-data'] input[type=file]").first
    file_input.set_input_files(str(pdf))
    city.locator("form[enctype='multipart/form-data'] button[type=submit]").first.click()
    city.wait_for_load_state()
    assert "festival-programme.pdf" in city.inner_text("main")
    city.click("button[name=submit][value=yes]")
    city.wait_for_url("**?done=report_submit")
    assert "submitted" in city.inner_text("h1")
    assert city.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # The Institute comments on the partnerships section and returns the report.
    institute = sign_in(browser, live, "institute@example.org", DESKTOP)  # type: ignore[arg-type]
    institute.goto(report_url)
    assert "Family reading circles" in institute.inner_text("main")
    assert_accessible(institute)
    institute.fill("#c_partnerships", "Name the libraries and what each one does.")
    institute.fill("#comment", "A strong report; one section needs detail.")
    institute.click("button[name=trigger][value=return_for_revision]")
    institute.wait_for_load_state()
    assert "returned" in institute.inner_text("h1")

    # The city sees the comment beside its section, corrects it and resubmits.
    city.goto(report_url)
    section = city.locator("#s-partnerships")
    assert "Name the libraries" in section.inner_text()
    assert "Name the libraries" not in city.locator("#s-achievements").inner_text()
    city.fill("#q_partners", "The city library (reading circles) and the university (courses).")
    city.click("button[name=submit][value=yes]")
    city.wait_for_url("**?done=report_submit")

    # The Institute accepts; both submitted versions stay readable.
    institute.goto(report_url)
    assert "The city library (reading circles)" in institute.inner_text("main")
    institute.click("button[name=trigger][value=accept]")
    institute.wait_for_load_state()
    assert "accepted" in institute.inner_text("h1")
    versions = institute.locator("a[href*='questionnaire?version=']")
    assert versions.count() == 2
    versions.first.click()
    first = institute.inner_text("main")
    assert "The regional university and the public libraries." in first
    assert "Name the libraries" in first  # the comments it was returned with

    # The printable view and the cycle's CSV.
    institute.goto(report_url.replace("/questionnaire", "/print"))
    assert "The city library (reading circles)" in institute.inner_text("main")
    answer = institute.request.get(f"{live.url}/report-cycles/2028-03-31.csv")
    assert answer.ok
    rows = list(csv.reader(io.StringIO(answer.text().lstrip("\ufeff"))))
    valmiera = [r for r in rows if "Valmiera" in r]
    assert len(valmiera) == 1
    assert "Family reading circles in every district." in valmiera[0]
