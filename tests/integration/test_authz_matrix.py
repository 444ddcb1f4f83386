"""Every role against every page and action, by page and by API, on a live portal.

Roles: anonymous, city A (Jelgava, LV), city B (Lyon, FR), Commission LV, Commission FR,
Institute, administrator, a juror (FR). Subjects: Jelgava's submitted application (pages)
and Ogre's (LV, API), Valmiera's membership and its submitted report; Rakvere's and
Narva's forwarded applications (EE), both assigned to the juror, and the call's jury.
The expected status of every cell is written below; the roles act in a fixed order,
mostly with the one allowed last, so each refusal before it is tested on the unchanged
record.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from config.paths import uploads_folder
from tests.e2e.clients import ACCOUNTS, Visitor, visitor
from tests.e2e.live import Live, live_portal
from web.demo import PASSWORD
from web.security import hash_password
from workflow.actors import Actor
from workflow.db import transaction, upgrade
from workflow.models import City, Membership, Report, User
from workflow.services import applications as apps
from workflow.services import directory, jury, submissions, users
from workflow.states import ReportState, Role
from workflow.uploads import store_signed_form

#: The matrix's people: the demo accounts and a juror (of France) the fixture invites.
PEOPLE = {**ACCOUNTS, "juror": "juror.matrix@example.org"}
ROLES = tuple(PEOPLE)
PDF = b"%PDF-1.4\n%%EOF\n"
START = datetime(2027, 3, 10, 9, tzinfo=UTC)


@dataclass
class Subjects:
    page_app: int  # Jelgava's application, submitted, with its signed PDF
    api_app: int  # Ogre's application (LV), submitted
    membership: int  # Valmiera (LV)
    report: int  # Valmiera's submitted report
    jury_app: int  # Rakvere's forwarded application (EE), assigned to the juror
    assignment: int  # the juror's assignment of Rakvere's application
    assignment2: int  # the juror's assignment of Narva's application
    call: str  # their call


@dataclass
class Matrix:
    live: Live
    subjects: Subjects
    people: dict[str, Visitor]


def _submitted(live: Live, city: City, actor_email: str | None = None) -> int:
    with transaction(live.factory) as session:
        if actor_email is None:
            user = users.create_user(
                session,
                users.actor_for(session.scalars(select(User).where(User.role == "admin")).one()),
                email=f"{city.name.lower()}@example.org",
                name=f"{city.name} focal point",
                role="city",
                city_id=city.id,
                now=START,
            )
        else:
            user = users.user_by_email(session, actor_email)
        actor = users.actor_for(user)
        app = apps.create_draft(
            session,
            live.settings,
            actor,
            now=START,
            motivation="Learning for all.",
            implementation_plan="A plan.",
            challenges=dict.fromkeys(apps.CHALLENGES, 2),
            signed_by="The Mayor",
        )
        store_signed_form(
            session,
            live.settings,
            actor,
            app.id,
            filename="signed.pdf",
            data=PDF,
            folder=uploads_folder(live.settings),
            now=START,
        )
        submissions.submit(session, live.settings, actor, app.id, now=START)
        return app.id


def _jury(live: Live) -> tuple[int, int, int, str]:
    """The juror (of France, the demo's password), two forwarded applications of Estonian
    cities assigned to them: (Rakvere's application, its assignment, Narva's, the call)."""
    found: list[int] = []
    for name in ("Rakvere", "Narva"):
        with transaction(live.factory) as session:
            admin = users.actor_for(users.user_by_email(session, "admin@example.org"))
            city = directory.upsert_city(
                session,
                admin,
                country_code="EE",
                name=name,
                contact_email=f"linn@{name.lower()}.ee",
                mayor_name=f"Mayor of {name}",
                mayor_title="Mayor",
                contact_name=f"{name} focal point",
                now=START,
            )
        app_id = _submitted(live, city)
        with transaction(live.factory) as session:
            ee = Actor(Role.COMMISSION, "EE officer", country_code="EE")
            submissions.endorse(session, live.settings, ee, app_id, now=START, comment="ok")
        found.append(app_id)
    with transaction(live.factory) as session:
        admin = users.actor_for(users.user_by_email(session, "admin@example.org"))
        institute = users.actor_for(users.user_by_email(session, "institute@example.org"))
        users.create_user(
            session,
            admin,
            email=PEOPLE["juror"] or "",
            name="Matrix juror",
            role="juror",
            country_code="FR",
            password_hash=hash_password(PASSWORD),
            now=START,
        )
        given = [
            jury.assign(session, live.settings, institute, a, PEOPLE["juror"] or "", now=START)
            for a in found
        ]
        call = given[0].application.call.name
        return found[0], given[0].id, given[1].id, call


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    folder: Path = tmp_path_factory.mktemp("authz")
    url = f"sqlite:///{folder / 'gnlc.db'}"
    upgrade(url)
    with live_portal(url, folder, START) as live:
        with transaction(live.factory) as session:
            admin = users.actor_for(users.user_by_email(session, "admin@example.org"))
            ogre = directory.upsert_city(
                session,
                admin,
                country_code="LV",
                name="Ogre",
                contact_email="dome@ogre.lv",
                mayor_name="Mayor of Ogre",
                mayor_title="Mayor",
                contact_name="Ogre focal point",
                now=START,
            )
            jelgava = session.scalars(select(City).where(City.name == "Jelgava")).one()
            valmiera = session.scalars(select(City).where(City.name == "Valmiera")).one()
            membership = session.scalars(
                select(Membership).where(Membership.city_id == valmiera.id)
            ).one()
            report = session.scalars(
                select(Report).where(
                    Report.membership_id == membership.id,
                    Report.state == ReportState.SUBMITTED.value,
                )
            ).one()
            ids = (membership.id, report.id)
        page_app = _submitted(live, jelgava, "jelgava@example.org")
        api_app = _submitted(live, ogre)
        jury_ids = _jury(live)
        subjects = Subjects(
            page_app=page_app,
            api_app=api_app,
            membership=ids[0],
            report=ids[1],
            jury_app=jury_ids[0],
            assignment=jury_ids[1],
            assignment2=jury_ids[2],
            call=jury_ids[3],
        )
        people = {role: visitor(live.url, email) for role, email in PEOPLE.items()}
        yield Matrix(live, subjects, people)
        for person in people.values():
            person.close()


def expect(codes: str) -> dict[str, int]:
    """'303 200 403 ...' in the order of ROLES."""
    values = [int(c) for c in codes.split()]
    assert len(values) == len(ROLES)
    return dict(zip(ROLES, values, strict=True))


#                                                 anon city_a city_b com_lv com_fr inst admin jur
PAGES: list[tuple[str, str]] = [
    ("/", "                                         303  200    200    200    200    200  200 200"),
    ("/applications", "                             303  200    200    200    200    200  200 200"),
    ("/applications/{page_app}", "                  303  200    403    200    403    200  200 403"),
    ("/applications/{page_app}/signed-form", "      303  200    403    200    403    200  200 403"),
    # city A: its application is submitted, so the edit form is refused when opened (409)
    ("/applications/{page_app}/edit", "             303  409    403    403    403    403  403 403"),
    ("/applications/new", "                         303  200    200    403    403    403  403 403"),
    ("/applications/999999", "                      303  404    404    404    404    404  404 404"),
    ("/members", "                                  303  200    200    200    200    200  200 200"),
    ("/members/{membership}", "                     303  403    403    200    403    200  200 403"),
    ("/reports/{report}", "                         303  403    403    200    403    200  200 403"),
    # a membership's changes: the Institute and the admin; Valmiera is active (no reinstate)
    ("/members/{membership}/change/remove", "       303  403    403    403    403    200  200 403"),
    ("/members/{membership}/change/reinstate", "    303  403    403    403    403    409  409 403"),
    ("/members/{membership}/change/withdraw", "     303  403    403    403    403    200  200 403"),
    ("/members/{membership}/change/rename", "       303  404    404    404    404    404  404 404"),
    ("/reports", "                                  303  403    403    403    403    200  200 403"),
    ("/admin/calls", "                              303  403    403    403    403    200  200 403"),
    ("/admin/countries", "                          303  403    403    403    403    403  200 403"),
    ("/admin/users", "                              303  403    403    403    403    403  200 403"),
    ("/workflow", "                                 303  200    200    200    200    200  200 200"),
    # the jury: a juror sees their assignments and the applications assigned to them only
    ("/jury", "                                     303  403    403    403    403    200  200 200"),
    ("/jury/calls/{call}", "                        303  403    403    403    403    200  200 403"),
    ("/jury/calls/{call}/ranking.csv", "            303  403    403    403    403    200  200 403"),
    ("/jury/calls/{call}/scores.csv", "             303  403    403    403    403    200  200 403"),
    ("/jury/assignments/{assignment}", "            303  403    403    403    403    403  403 200"),
    ("/applications/{jury_app}", "                  303  403    403    403    403    200  200 200"),
]
API_READS: list[tuple[str, str]] = [
    ("/api/v1/me", "                                401  200    200    200    200    200  200 200"),
    ("/api/v1/applications", "                      401  200    200    200    200    200  200 200"),
    ("/api/v1/applications/{page_app}", "           401  200    403    200    403    200  200 403"),
    ("/api/v1/applications/{api_app}/history", "    401  403    403    200    403    200  200 403"),
    ("/api/v1/members", "                           401  200    200    200    200    200  200 200"),
    ("/api/v1/members/{membership}/reports", "      401  403    403    200    403    200  200 403"),
    ("/api/v1/reports/{report}", "                  401  403    403    200    403    200  200 403"),
    ("/api/v1/reports", "                           401  403    403    403    403    200  200 403"),
    ("/api/v1/calls", "                             401  403    403    403    403    200  200 403"),
    ("/api/v1/countries", "                         401  200    200    200    200    200  200 200"),
    ("/api/v1/users", "                             401  403    403    403    403    403  200 403"),
    ("/api/v1/workflows/application", "             401  200    200    200    200    200  200 200"),
    # the Institute names the call (422 without it); a juror gets their own
    ("/api/v1/jury/assignments", "                  401  403    403    403    403    422  422 200"),
    ("/api/v1/jury/calls/{call}/ranking", "         401  403    403    403    403    200  200 403"),
    ("/api/v1/applications/{jury_app}/scores", "    401  403    403    403    403    200  200 200"),
    ("/api/v1/applications/{jury_app}", "           401  403    403    403    403    200  200 200"),
]


def _path(template: str, subjects: Subjects) -> str:
    return template.format(**vars(subjects))


@pytest.mark.parametrize(("path", "codes"), PAGES, ids=[p for p, _ in PAGES])
def test_page_reads(matrix: Matrix, path: str, codes: str) -> None:
    got = {
        role: matrix.people[role].pages.get(_path(path, matrix.subjects)).status_code
        for role in ROLES
    }
    assert got == expect(codes)


@pytest.mark.parametrize(("path", "codes"), API_READS, ids=[p for p, _ in API_READS])
def test_api_reads(matrix: Matrix, path: str, codes: str) -> None:
    got = {
        role: matrix.people[role].api.get(_path(path, matrix.subjects)).status_code
        for role in ROLES
    }
    assert got == expect(codes)


#: Actions that cannot be undone are posted with their confirmation (web/actions.py).
CONFIRM = {"confirm": "yes"}
#: A juror's scores as the page's form posts them.
SCORES = {f"score_{c}": "4" for c in jury.DEFAULT_CRITERIA}

# Writes: (name, page path, page form, api method, api path, api body, page codes, api codes).
# Rows run in this order, roles in the order of ROLES (the Institute before the admin).
WRITES: list[tuple[str, str, dict[str, str], str, str, dict[str, object], str, str]] = [
    (
        "city_b_and_others_edit_city_a_draft",
        "/applications/{page_app}/edit",
        {"motivation": "Hijacked"},
        "PATCH",
        "/api/v1/applications/{api_app}",
        {"motivation": "Hijacked"},
        "303 422 403 403 403 403 403 403",  # city A: its application is submitted, not editable
        "401 403 403 403 403 403 403 403",  # city A reaching for Ogre's application
    ),
    (
        "upload_signed_form",
        "/applications/{page_app}/signed-form",
        {},
        "",
        "",
        {},
        "303 422 403 403 403 403 403 403",  # city A: no file chosen (and it is submitted)
        "",
    ),
    (
        "endorse",
        "/applications/{page_app}/act",
        {"trigger": "endorse", "comment": "ok", **CONFIRM},
        "POST",
        "/api/v1/applications/{api_app}/actions/endorse",
        {"comment": "ok"},
        "303 403 403 303 403 403 403 403",
        "401 403 403 200 403 403 403 403",
    ),
    (
        "start_review",
        "/applications/{page_app}/act",
        {"trigger": "start_review", **CONFIRM},
        "POST",
        "/api/v1/applications/{api_app}/actions/start_review",
        {},
        "303 403 403 403 403 303 403 403",
        "401 403 403 403 403 200 403 403",
    ),
    (
        "admit",
        "/applications/{page_app}/act",
        {"trigger": "admit", **CONFIRM},
        "POST",
        "/api/v1/applications/{api_app}/actions/admit",
        {},
        "303 403 403 403 403 303 403 403",
        "401 403 403 403 403 200 403 403",
    ),
    (
        "withdraw_after_admission",
        "/applications/{page_app}/act",
        {"trigger": "withdraw", **CONFIRM},
        "POST",
        "/api/v1/applications/{api_app}/actions/withdraw",
        {},
        # Only a city withdraws (403 for the others); city A, not once admitted (409).
        "303 409 403 403 403 403 403 403",
        "401 403 403 403 403 403 403 403",
    ),
    (
        "review_report",
        "/reports/{report}/act",
        {"trigger": "accept", **CONFIRM},
        "POST",
        "/api/v1/reports/{report}/review",
        {"trigger": "accept"},
        "303 403 403 403 403 303 403 403",
        "401 403 403 403 403 409 403 403",  # the page accepted it already
    ),
    (
        "create_call",
        "/admin/calls",
        {"name": "matrix-page", "opens_on": "2027-09-01", "closes_on": "2027-10-31"},
        "POST",
        "/api/v1/calls",
        {"name": "matrix-api", "opens_on": "2027-11-01", "closes_on": "2027-11-30"},
        # The Institute and the admin both may; the admin, coming second, finds the
        # name taken (409), which is past the authorisation check.
        "303 403 403 403 403 303 409 403",
        "401 403 403 403 403 201 409 403",
    ),
    (
        "save_country",
        "/admin/countries",
        {"code": "EE", "name": "Estonia", "commission_email": "unesco@unesco.ee"},
        "PUT",
        "/api/v1/countries/EE",
        {"name": "Estonia", "commission_email": "unesco@unesco.ee"},
        "303 403 403 403 403 403 303 403",
        "401 403 403 403 403 403 200 403",
    ),
    (
        "create_user",
        "/admin/users",
        {"email": "new.page@example.org", "name": "New", "role": "institute"},
        "POST",
        "/api/v1/users",
        {"email": "new.api@example.org", "name": "New", "role": "institute"},
        "303 403 403 403 403 403 303 403",
        "401 403 403 403 403 403 201 403",
    ),
    # The jury: only the Institute and the admin spread; only the juror scores their own
    # assignment; no juror decides.
    (
        "spread_jurors",
        "/jury/calls/{call}/spread",
        {"per_application": "1"},
        "POST",
        "/api/v1/jury/calls/{call}/spread",
        {"per_application": 1},
        "303 403 403 403 403 303 303 403",
        "401 403 403 403 403 200 200 403",
    ),
    (
        "score_an_assignment",
        "/jury/assignments/{assignment}/scores",
        {**SCORES, "recommendation": "admit", **CONFIRM},
        "POST",
        "/api/v1/jury/assignments/{assignment2}/scores",
        {"scores": dict.fromkeys(jury.DEFAULT_CRITERIA, 4), "recommendation": "admit"},
        "303 403 403 403 403 403 403 303",
        "401 403 403 403 403 403 403 200",
    ),
    (
        "juror_decides",
        "/applications/{jury_app}/act",
        {"trigger": "start_review", **CONFIRM},
        "POST",
        "/api/v1/applications/{jury_app}/actions/admit",
        {},
        # the Institute starts the review on the page and admits by the API; the juror,
        # coming after the Institute and the admin, may do neither
        "303 403 403 403 403 303 403 403",
        "401 403 403 403 403 200 403 403",
    ),
    # Valmiera's membership (last: the report above is reviewed while it is a member). The
    # page has no API twin. Who may is told first; then that a reason is needed (422).
    (
        "remove_member_without_a_reason",
        "/members/{membership}/change/remove",
        {"reason": "  "},
        "",
        "",
        {},
        "303 403 403 403 403 422 422 403",
        "",
    ),
    (
        "remove_member",
        "/members/{membership}/change/remove",
        {"reason": "No report for six years."},
        "",
        "",
        {},
        # the admin, coming second, finds it removed (409): past the authorisation check
        "303 403 403 403 403 303 409 403",
        "",
    ),
    (
        "reinstate_member",
        "/members/{membership}/change/reinstate",
        {"reason": "The reports are in."},
        "",
        "",
        {},
        "303 403 403 403 403 303 409 403",
        "",
    ),
    (
        "withdraw_member_on_request",
        "/members/{membership}/change/withdraw",
        {"reason": "The mayor's letter of 2 March."},
        "",
        "",
        {},
        "303 403 403 403 403 303 409 403",
        "",
    ),
]


#: A page's refusal, whatever the reason: 303 back to the form's page, without ``done``.
REFUSED = 400


def page_outcome(response: httpx.Response) -> int:
    """303 for done (or, signed out, to the sign-in page); REFUSED for a redirect back
    to the page with the reason; any other status as it is."""
    if response.status_code != 303:
        return response.status_code
    where = response.headers["location"]
    return 303 if "done=" in where or where.startswith("/login") else REFUSED


@pytest.mark.parametrize("row", WRITES, ids=[w[0] for w in WRITES])
def test_writes(
    matrix: Matrix, row: tuple[str, str, dict[str, str], str, str, dict[str, object], str, str]
) -> None:
    name, page_path, form, method, api_path, body, page_codes, api_codes = row
    got_pages: dict[str, int] = {}
    expected_pages = expect(page_codes)
    for role in ROLES:
        response = matrix.people[role].post_form(_path(page_path, matrix.subjects), form)
        got_pages[role] = min(page_outcome(response), REFUSED)
    # A page answers every POST with a redirect (Post-Redirect-Get): a refusal goes back
    # to the page it came from with the reason, so the page only tells done from refused.
    assert got_pages == {r: REFUSED if c >= 400 else c for r, c in expected_pages.items()}, name
    if not method:
        return
    expected_api = expect(api_codes)
    got_api: dict[str, int] = {}
    for role in ROLES:
        response = matrix.people[role].api.request(
            method, _path(api_path, matrix.subjects), json=body
        )
        got_api[role] = response.status_code
        assert response.status_code < 500, response.text
    assert got_api == expected_api, name
