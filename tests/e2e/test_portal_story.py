"""The whole story in a real Chromium: a city applies, its Commission endorses, the
Institute admits (in French), the emails land, and two years later the member reports
from a phone. Screenshots of the key pages go to test-artifacts/screenshots/."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize

from notifications.dispatcher import dispatch
from tests.e2e.live import Live, live_portal
from tests.e2e.test_role_stories import act
from workflow.sweep import sweep

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is not installed"
    ),
]


@pytest.fixture
def live(sqlite_url: str, tmp_path: Path) -> Iterator[Live]:
    # 10 March 2027: the annual call (1 March to 30 April) is open.
    with live_portal(sqlite_url, tmp_path, datetime(2027, 3, 10, 9, tzinfo=UTC)) as portal:
        yield portal


def sign_in(browser: Browser, live: Live, address: str, viewport: ViewportSize) -> Page:
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{live.url}/")
    assert "/login" in page.url
    page.fill("#email", address)
    page.fill("#password", "demo-password")
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{live.url}/")
    return page


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def mails(maildir: Path) -> list[email.message.EmailMessage]:
    found: list[email.message.EmailMessage] = []
    for path in sorted(maildir.glob("*/*")):
        if path.is_file():
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, email.message.EmailMessage)
            found.append(message)
    return found


def test_city_applies_commission_endorses_institute_admits_member_reports(
    live: Live, browser: Browser, tmp_path: Path
) -> None:
    # The city fills in Part 1, uploads the signed PDF and submits.
    city = sign_in(browser, live, "jelgava@example.org", DESKTOP)
    shot(city, "city-home-desktop")
    city.click("a[href='/applications/new']")
    city.fill("#motivation", "Jelgava wants lifelong learning for every age group. " * 3)
    city.fill("#implementation_plan", "Map providers, open a learning festival, monitor yearly.")
    for area in ("governance", "funding", "partnerships", "monitoring", "inclusion"):
        city.select_option(f"#challenge_{area}", "3")
    city.fill("#signed_by", "Andris Rāviņš")
    shot(city, "city-form-desktop")
    city.click("form.form button[type=submit]")
    city.wait_for_url("**/applications/*?done=saved")
    assert city.locator(".card.warn").is_visible()  # the signed form is still missing
    pdf = tmp_path / "signed.pdf"
    pdf.write_bytes(PDF)
    city.set_input_files("#signed_form", str(pdf))
    city.click("form.upload button[type=submit]")
    city.wait_for_url("**?done=uploaded")
    assert city.locator(".card.warn").count() == 0
    act(city, "submit")
    city.wait_for_url("**?done=submit")
    assert "submitted" in city.inner_text("h1")
    app_url = city.url.split("?")[0]
    shot(city, "city-application-submitted")

    # The Latvian Commission sees it in its queue, with deadline and quota, and endorses.
    commission = sign_in(browser, live, "commission.lv@example.org", DESKTOP)
    queue = commission.inner_text("main")
    assert "Jelgava" in queue and "3 / 3" in queue
    shot(commission, "commission-queue-desktop")
    commission.click("text=Jelgava")
    act(commission, "endorse", "Endorsed by the Latvian National Commission, letter 12/2027.")
    commission.wait_for_url("**?done=endorse")
    assert "forwarded" in commission.inner_text("h1")

    # The Institute works in French: starts the review and admits.
    institute = sign_in(browser, live, "institute@example.org", DESKTOP)
    institute.click("button[name=lang][value=fr]")
    institute.wait_for_load_state()
    assert "Candidatures transmises" in institute.inner_text("main")
    shot(institute, "institute-home-fr")
    institute.goto(app_url)
    assert "Commencer l'examen" in institute.inner_text("main")
    act(institute, "start_review")
    institute.wait_for_url("**?done=start_review")
    act(institute, "admit")
    institute.wait_for_url("**?done=admit")
    assert "admise" in institute.inner_text("h1")
    shot(institute, "institute-admitted-fr")
    # Decided, not yet told: the city still reads "under review".
    city.goto(app_url)
    assert "under review" in city.inner_text("h1")
    # The decision is told when the Institute publishes its announcement (the batch):
    # a draft, the decision added to it, a confirmation page, published.
    app_id = app_url.rstrip("/").rsplit("/", 1)[1]
    assert "Décidée, pas encore annoncée" in institute.inner_text("main")
    institute.click("nav a[href='/announcements']")
    institute.fill("#title", "Nouveaux membres, mars 2027")
    institute.fill("#date", "2027-03-12")
    institute.click("form[action='/announcements'] button[type=submit]")
    institute.wait_for_url("**?done=announcement_created")
    institute.check(f"input[name=application][value='{app_id}']")
    institute.click("form[action$='/add'] button[type=submit]")
    institute.wait_for_url("**?done=announcement_added")
    institute.click("a[href$='/publish']")
    confirm = institute.inner_text("main")
    assert "1 ville recevra un courriel, avec copie à sa Commission nationale." in confirm
    assert "1 adhésion commencera à la date de l'annonce." in confirm
    assert institute.input_value("#date") == "2027-03-12"
    shot(institute, "institute-announcement-confirm-fr")
    institute.click("form[action$='/publish'] button[type=submit]")
    institute.wait_for_url("**?done=announcement_published")
    assert "Publiée le" in institute.inner_text("main")
    shot(institute, "institute-announcement-published-fr")
    city.goto(app_url)
    assert "admitted" in city.inner_text("h1")
    assert institute.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    institute.goto(f"{live.url}/workflow")
    assert institute.locator("svg.diagram").count() == 3
    shot(institute, "workflow-diagrams-fr")

    # The scheduler's dispatcher sends the outbox into the Maildir.
    # (in a thread of its own: Playwright's event loop runs in this one)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(dispatch, live.factory, live.settings, now=live.clock(), worker="e2e").result()
    messages = mails(live.maildir)
    to_commission = [m for m in messages if "office.lv@demo.example.org" in str(m["To"])]
    to_city = [m for m in messages if "jelgava.lv@demo.example.org" in str(m["To"])]
    assert to_commission, "the Commission got no email about the submission"
    assert any("Jelgava" in str(m["Subject"]) for m in to_commission)
    assert len(to_city) >= 2, "the city should have its acknowledgement and its admission"

    # Two years later the sweep opens the report; the member submits it from a phone.
    live.clock.moment = datetime(2029, 2, 1, 9, tzinfo=UTC)
    sweep(live.factory, live.settings, now=live.clock())
    phone = sign_in(browser, live, "jelgava@example.org", PHONE)
    shot(phone, "city-home-phone")
    phone.click("main a[href^='/members/']")
    phone.click("a[href^='/reports/']")
    phone.fill("#summary", "Two learning festivals, 40 new adult courses, a city learning map.")
    shot(phone, "city-report-phone")
    act(phone, "submit")
    assert "done=report_submit" in phone.url
    assert "submitted" in phone.inner_text("h1")
    shot(phone, "city-report-submitted-phone")
    # Nothing on the phone page is wider than the screen.
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
