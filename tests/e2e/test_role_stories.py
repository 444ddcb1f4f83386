"""A browser story per role, each doing the role's main job from start to finish, in
English and in French, on a desktop and on a phone (16 runs). Every page visited is checked
by axe-core (zero violations), is no wider than the screen, and is photographed under
test-artifacts/stories/. On a desktop each role takes the way forward (endorse, admit,
accept), on a phone the way back with a comment (return, do not admit, return the report),
so each language sees both.

One portal serves the whole module; what each story needs that another role would have
done first (a submitted application, a forwarded one, a submitted report) is made
beforehand through the services, one record per story, so the stories do not depend on
each other's order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize
from sqlalchemy import select

from config.paths import uploads_folder
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import DESKTOP, PASSWORD, PHONE, open_menu, shot, sign_in
from tests.e2e.live import Live, live_portal
from web.security import hash_password
from workflow.db import transaction, upgrade
from workflow.models import City, Report
from workflow.services import applications as apps
from workflow.services import directory, memberships, submissions, users
from workflow.states import ReportState
from workflow.uploads import store_signed_form

START = datetime(2027, 3, 10, 9, tzinfo=UTC)  # the annual call is open
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
VARIANTS = [
    pytest.param(lang, viewport, id=f"{lang}-{screen}")
    for lang in ("en", "fr")
    for screen, viewport in (("desktop", DESKTOP), ("phone", PHONE))
]
#: per variant: the city account that drafts (a city with no application yet)
CITIES = {"en-desktop": ("LV", "Jelgava"), "en-phone": ("LV", "Bauska"),
          "fr-desktop": ("FR", "Lyon"), "fr-phone": ("FR", "Dijon")}  # fmt: skip
#: per variant: the city whose application the Commission decides on; one forwarded to
#: the Institute; one member whose report the Institute reviews (None: the demo's Valmiera)
SUBMITTED = {"en-desktop": ("LV", "Ogre"), "en-phone": ("LV", "Talsi"),
             "fr-desktop": ("FR", "Nantes"), "fr-phone": ("FR", "Rouen")}  # fmt: skip
FORWARDED = {"en-desktop": ("LV", "Tukums"), "en-phone": ("LV", "Sigulda"),
             "fr-desktop": ("FR", "Lille"), "fr-phone": ("FR", "Rennes")}  # fmt: skip
REPORTING = {"en-desktop": None, "en-phone": ("EE", "Narva"),
             "fr-desktop": ("EE", "Tallinn"), "fr-phone": ("EE", "Rakvere")}  # fmt: skip
#: the comments a reviewer writes, in the story's language
SAYS = {
    "en": {
        "endorse": "Endorsed by the National Commission, letter 12/2027.",
        "return_to_city": "Please say how the yearly monitoring will work.",
        "not_admit": "The plan has no measurable monitoring yet.",
        "return_for_revision": "Please add the participation figures.",
    },
    "fr": {
        "endorse": "Soutenue par la Commission nationale, lettre 12/2027.",
        "return_to_city": "Merci de préciser le plan de suivi annuel.",
        "not_admit": "Le plan ne prévoit pas encore de suivi mesurable.",
        "return_for_revision": "Merci d'ajouter les chiffres de participation.",
    },
}

pytestmark = pytest.mark.e2e


@dataclass
class World:
    live: Live
    #: per variant (``en-phone``...): the city account that drafts an application
    cities: dict[str, str]
    #: per variant: the application the Commission decides on
    submitted: dict[str, int]
    #: per variant: a forwarded application for the Institute
    forwarded: dict[str, int]
    #: per variant: a submitted progress report for the Institute
    reports: dict[str, int]


def _city(session: object, admin: object, code: str, name: str) -> City:
    return directory.upsert_city(
        session,  # type: ignore[arg-type]
        admin,  # type: ignore[arg-type]
        country_code=code,
        name=name,
        contact_email=f"contact@{name.lower()}.example",
        mayor_name=f"Mayor of {name}",
        mayor_title="Mayor",
        contact_name=f"{name} focal point",
        now=START,
    )


def _city_account(live: Live, code: str, name: str) -> str:
    """The email of a city account of ``name`` (created unless the demo has it)."""
    email = f"{name.lower()}@example.org"
    with transaction(live.factory) as session:
        admin = users.actor_for(users.user_by_email(session, "admin@example.org"))
        if session.scalars(select(City).where(City.name == name)).first() is None:
            city = _city(session, admin, code, name)
            user = users.create_user(
                session, admin, email=email, name=f"{name} focal point",
                role="city", city_id=city.id, now=START,
            )  # fmt: skip
            user.password_hash = hash_password(PASSWORD)
    return email


def _application(live: Live, code: str, name: str, *, forward: bool) -> int:
    """A complete application of a new city ``name`` in ``code``, submitted (and, with
    ``forward``, endorsed by its Commission)."""
    with transaction(live.factory) as session:
        admin = users.actor_for(users.user_by_email(session, "admin@example.org"))
        city = _city(session, admin, code, name)
        user = users.create_user(
            session, admin, email=f"{name.lower()}@example.org", name=f"{name} focal point",
            role="city", city_id=city.id, now=START,
        )  # fmt: skip
        actor = users.actor_for(user)
        app = apps.create_draft(
            session,
            live.settings,
            actor,
            now=START,
            motivation=f"{name} wants every resident learning, at every age.",
            implementation_plan="Learning festivals, a map of providers, yearly monitoring.",
            challenges=dict.fromkeys(apps.CHALLENGES, 3),
            signed_by=f"Mayor of {name}",
        )
        store_signed_form(
            session, live.settings, actor, app.id, filename="signed.pdf", data=PDF,
            folder=uploads_folder(live.settings), now=START,
        )  # fmt: skip
        submissions.submit(session, live.settings, actor, app.id, now=START)
        if forward:
            commission = users.actor_for(
                users.user_by_email(session, f"commission.{code.lower()}@example.org")
            )
            submissions.endorse(
                session, live.settings, commission, app.id, now=START,
                comment="Endorsed, letter 12/2027.",
            )  # fmt: skip
        return app.id


def _report(live: Live, code: str, name: str) -> int:
    """A member ``name`` (since 2016) whose latest report waits for the Institute."""
    with transaction(live.factory) as session:
        admin = users.actor_for(users.user_by_email(session, "admin@example.org"))
        city = _city(session, admin, code, name)
        membership = memberships.import_member(
            session, live.settings, admin, city, admitted_on=date(2016, 9, 1), now=START
        )
        membership.reports_from = date(2016, 9, 1)  # as the demo's Valmiera: reports owed
        reports = memberships.ensure_reports(
            session, live.settings, membership, today=START.date(), now=START
        )
        report = max((r for r in reports if r.due_on < START.date()), key=lambda r: r.due_on)
        report.state = ReportState.SUBMITTED.value
        report.submitted_at = START
        report.summary = "Two learning festivals and forty new adult courses."
        session.flush()
        return report.id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder: Path = tmp_path_factory.mktemp("stories")
    url = f"sqlite:///{folder / 'gnlc.db'}"
    upgrade(url)
    with live_portal(url, folder, START) as live:
        with transaction(live.factory) as session:
            valmiera = session.scalars(select(City).where(City.name == "Valmiera")).one()
            demo_report = session.scalars(
                select(Report).where(Report.state == ReportState.SUBMITTED.value)
            ).one()
            assert demo_report.membership.city_id == valmiera.id
            valmiera_report = demo_report.id
        yield World(
            live,
            cities={v: _city_account(live, *place) for v, place in CITIES.items()},
            submitted={
                v: _application(live, *place, forward=False) for v, place in SUBMITTED.items()
            },
            forwarded={
                v: _application(live, *place, forward=True) for v, place in FORWARDED.items()
            },
            reports={
                v: valmiera_report if place is None else _report(live, *place)
                for v, place in REPORTING.items()
            },
        )


def visit(page: Page, url: str, name: str) -> None:
    page.goto(url)
    seen(page, name)


def seen(page: Page, name: str) -> None:
    """Every page of a story: axe finds nothing, nothing is wider than the screen."""
    page.wait_for_load_state()
    assert_accessible(page)
    width = page.viewport_size["width"] if page.viewport_size else 0
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url
    shot(page, name)


def act(page: Page, trigger: str, comment: str | None = None) -> None:
    """Fire ``trigger`` from the page's action form, through its confirmation step when it
    has one (a <details> in the form, or a page of its own); end on the page that says it
    is done."""
    form = page.locator(f"main form:has(input[name=trigger][value={trigger}])").first
    if comment is not None:
        form.locator("textarea").fill(comment)
    confirm = form.locator("details.confirm")
    if confirm.count():
        confirm.locator("summary").click()
        assert_accessible(page)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    if "done=" not in page.url:  # a confirmation page
        assert_accessible(page)
        page.locator("main form[method=post] button[type=submit]").last.click()
    page.wait_for_url("**done=**")


def done(page: Page) -> None:
    """The POST before this redirected to a page that says it is done (not a refusal)."""
    page.wait_for_load_state()
    alert = page.locator("main .alert.error")
    assert "done=" in page.url, alert.inner_text() if alert.count() else page.url


def variant(lang: str, viewport: ViewportSize) -> str:
    """``en-desktop``, ``fr-phone``...: the key of the story's records in :class:`World`."""
    return f"{lang}-{'phone' if viewport['width'] < 600 else 'desktop'}"


def forward(viewport: ViewportSize) -> bool:
    """On a desktop the story takes the way forward, on a phone the way back."""
    return viewport["width"] >= 600


def tag(role: str, lang: str, viewport: ViewportSize) -> str:
    return f"{role}-{variant(lang, viewport)}"


@pytest.mark.parametrize(("lang", "viewport"), VARIANTS)
def test_city_drafts_uploads_the_signed_form_and_submits(
    world: World, browser: Browser, tmp_path: Path, lang: str, viewport: ViewportSize
) -> None:
    live = world.live
    address = world.cities[variant(lang, viewport)]
    name = tag("city", lang, viewport)
    page = sign_in(browser, live, address, viewport, lang)
    shot(page, f"{name}-1-home")
    page.click("main a[href='/applications/new']")
    seen(page, f"{name}-2-form")
    page.fill("#motivation", "Our city wants lifelong learning for every age group. " * 3)
    page.fill("#implementation_plan", "Map providers, open a learning festival, monitor yearly.")
    for area in apps.CHALLENGES:
        page.select_option(f"#challenge_{area}", "3")
    page.fill("#signed_by", "The Mayor")
    page.click("main form.form button[type=submit]")
    page.wait_for_url("**/applications/*done=saved*")
    seen(page, f"{name}-3-draft")
    pdf = tmp_path / "signed.pdf"
    pdf.write_bytes(PDF)
    page.set_input_files("#signed_form", str(pdf))
    page.click("main form.upload button[type=submit]")
    page.wait_for_url("**done=uploaded*")
    seen(page, f"{name}-4-uploaded")
    act(page, "submit")
    seen(page, f"{name}-5-submitted")
    assert page.locator("h1 .badge.state-submitted").count() == 1
    page.goto(f"{live.url}/workflow")
    seen(page, f"{name}-6-workflow")
    assert page.locator("svg.diagram").count() == 3
    page.context.close()


@pytest.mark.parametrize(("lang", "viewport"), VARIANTS)
def test_commission_endorses_or_returns_with_a_comment(
    world: World, browser: Browser, lang: str, viewport: ViewportSize
) -> None:
    live = world.live
    address = {"en": "commission.lv@example.org", "fr": "commission.fr@example.org"}[lang]
    name = tag("commission", lang, viewport)
    page = sign_in(browser, live, address, viewport, lang)
    shot(page, f"{name}-1-queue")
    app_id = world.submitted[variant(lang, viewport)]
    page.click(f"main a[href='/applications/{app_id}']")
    seen(page, f"{name}-2-application")
    trigger, expected = (
        ("endorse", "forwarded") if forward(viewport) else ("return_to_city", "returned")
    )
    act(page, trigger, SAYS[lang][trigger])
    seen(page, f"{name}-3-decided")
    assert page.locator(f"h1 .badge.state-{expected}").count() == 1
    visit(page, f"{live.url}/applications", f"{name}-4-list")
    page.context.close()


@pytest.mark.parametrize(("lang", "viewport"), VARIANTS)
def test_institute_decides_and_reviews_a_report(
    world: World, browser: Browser, lang: str, viewport: ViewportSize
) -> None:
    live = world.live
    name = tag("institute", lang, viewport)
    page = sign_in(browser, live, "institute@example.org", viewport, lang)
    shot(page, f"{name}-1-home")
    key = variant(lang, viewport)
    visit(page, f"{live.url}/applications/{world.forwarded[key]}", f"{name}-2-forwarded")
    act(page, "start_review")
    if forward(viewport):
        act(page, "admit")
        expected = "admitted"
    else:
        act(page, "not_admit", SAYS[lang]["not_admit"])
        expected = "not_admitted"
    seen(page, f"{name}-3-decided")
    assert page.locator(f"h1 .badge.state-{expected}").count() == 1
    visit(page, f"{live.url}/reports", f"{name}-4-reports")
    visit(page, f"{live.url}/reports/{world.reports[key]}", f"{name}-5-report")
    if forward(viewport):
        act(page, "accept")
        expected = "accepted"
    else:
        act(page, "return_for_revision", SAYS[lang]["return_for_revision"])
        expected = "returned"
    seen(page, f"{name}-6-reviewed")
    assert page.locator(f"h1 .badge.state-{expected}").count() == 1
    visit(page, f"{live.url}/members", f"{name}-7-members")
    # the decision waits for an announcement: the list says so (and passes axe)
    visit(page, f"{live.url}/announcements", f"{name}-8-announcements")
    assert page.locator("main p.waiting").count() == 1
    page.context.close()


@pytest.mark.parametrize(("lang", "viewport"), VARIANTS)
def test_admin_creates_a_call_and_manages_a_user(
    world: World, browser: Browser, lang: str, viewport: ViewportSize
) -> None:
    live = world.live
    name = tag("admin", lang, viewport)
    year = {"en-desktop": 2031, "en-phone": 2032, "fr-desktop": 2033, "fr-phone": 2034}[
        variant(lang, viewport)
    ]
    page = sign_in(browser, live, "admin@example.org", viewport, lang)
    shot(page, f"{name}-1-home")
    open_menu(page)
    page.click("header nav a[href='/admin/calls']")
    seen(page, f"{name}-2-calls")
    page.fill("#name", f"Call {year}")
    page.fill("#opens_on", f"{year}-03-01")
    page.fill("#closes_on", f"{year}-04-30")
    page.click("main form[method=post][action='/admin/calls'] button[type=submit]")
    done(page)
    seen(page, f"{name}-3-call-created")
    assert f"Call {year}" in page.inner_text("main")
    visit(page, f"{live.url}/admin/users", f"{name}-4-users")
    email = f"new.person.{variant(lang, viewport)}@example.org"
    page.fill("#uemail", email)
    page.fill("#uname", f"New person {lang}")
    page.select_option("#urole", "institute")
    page.click("main form[method=post][action='/admin/users'] button[type=submit]")
    done(page)
    seen(page, f"{name}-5-user-created")
    row = page.locator("main tr", has_text=email)
    row.locator("form[action$='/active'] button[type=submit]").click()
    page.wait_for_load_state()
    if "done=" not in page.url:  # a confirmation step
        page.locator("main form[method=post] button[type=submit]").last.click()
    page.wait_for_url("**done=**")
    seen(page, f"{name}-6-user-deactivated")
    page.context.close()
