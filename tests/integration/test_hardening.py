"""Hardening: one set of field limits for pages and API, an audit log nobody rewrites,
no token in the access log, and the caching and transport headers.

Over real HTTP against a live portal (uvicorn in a thread) where a server is involved,
on SQLite and PostgreSQL where the database is.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from uvicorn.logging import AccessFormatter

from config import load_settings
from tests.conftest import utc
from tests.e2e.clients import Visitor, visitor
from tests.e2e.live import Live, live_portal
from web.app import create_app
from web.security import LANGUAGE_COOKIE
from web.serving import SecretPathFilter, hide_secrets
from workflow.db import make_engine, session_factory, transaction
from workflow.models import Application, AuditEvent, City, Report

START = datetime(2027, 3, 10, 9, tzinfo=UTC)
ERROR = re.compile(r'role="alert">(.*?)</div>', re.S)


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(db_url, tmp_path, START) as portal:
        yield portal


@pytest.fixture
def city(live: Live) -> Iterator[Visitor]:
    person = visitor(live.url, "jelgava@example.org")
    yield person
    person.close()


def jelgava(live: Live) -> tuple[list[Application], City]:
    with transaction(live.factory) as session:
        found = session.scalars(select(City).where(City.name == "Jelgava")).one()
        apps = list(session.scalars(select(Application).where(Application.city_id == found.id)))
        session.expunge_all()
        return apps, found


def refused_page(person: Visitor, response: httpx.Response) -> httpx.Response:
    """A page's refusal (Post-Redirect-Get): 303 back to the form's page, which then
    shows the reason and the input."""
    assert response.status_code == 303, response.text[:300]
    assert "done=" not in response.headers["location"]
    return person.pages.get(response.headers["location"])


# --- one set of field limits -----------------------------------------------------------


def test_the_page_and_the_api_refuse_the_same_overlong_fields(live: Live, city: Visitor) -> None:
    huge = "x" * 1_000_000
    phone = "1" * 1_000
    good = {"motivation": "Learning for all.", "implementation_plan": "A plan."}
    _, before = jelgava(live)

    page = refused_page(city, city.post_form("/applications", {**good, "motivation": huge}))
    assert (
        "“Motivation” is too long: 1,000,000 characters, at most 20,000 are accepted." in page.text
    )
    assert "motivation:" not in page.text and "string_too_long" not in page.text
    api = city.api.post("/api/v1/applications", json={**good, "motivation": huge})
    assert api.status_code == 422
    assert jelgava(live)[0] == []  # neither stored a draft

    created = city.post_form("/applications", good)
    assert created.status_code == 303, created.text[:300]
    app_id = int(created.headers["location"].split("?")[0].rsplit("/", 1)[1])
    page = city.post_form(f"/applications/{app_id}/edit", {**good, "contact_phone": phone})
    page = refused_page(city, page)
    assert "“Contact phone” is too long: 1,000 characters, at most 50" in page.text
    assert phone in page.text  # the input is kept, to be shortened
    api = city.api.patch(f"/api/v1/applications/{app_id}", json={"contact_phone": phone})
    assert api.status_code == 422
    api = city.api.patch(f"/api/v1/applications/{app_id}", json={"motivation": huge})
    assert api.status_code == 422

    apps, after = jelgava(live)
    assert [a.motivation for a in apps] == ["Learning for all."]
    assert after.contact_phone == before.contact_phone


def test_a_french_page_says_the_field_limit_in_french(live: Live, city: Visitor) -> None:
    city.pages.cookies.set(LANGUAGE_COOKIE, "fr")
    city.post_form("/language", {"lang": "fr", "next": "/"})  # signed in, the account's wins
    page = city.post_form(
        "/applications", {"motivation": "Apprendre.", "contact_phone": "1" * 1_000}
    )
    page = refused_page(city, page)
    assert "« Téléphone de contact » est trop long : 1\u202f000 caractères, 50 au plus." in (
        page.text
    )
    assert jelgava(live)[0] == []


def test_admin_forms_use_the_api_models_too(live: Live) -> None:
    admin = visitor(live.url, "admin@example.org")
    try:
        long_reason = "r" * 2_001
        refused = refused_page(
            admin,
            admin.post_form(
                "/admin/calls",
                {"name": "2031", "opens_on": "2031-03-01", "closes_on": "not a date"},
            ),
        )
        assert "“Closes on” is not a date. Write it like 2027-03-01" in refused.text
        assert "closes_on" not in ERROR.findall(refused.text)[0]
        assert 'value="not a date"' in refused.text  # the input is kept
        missing = refused_page(
            admin, admin.post_form("/admin/calls", {"name": "2031", "closes_on": "2031-04-30"})
        )
        assert "“Opens on” is required." in missing.text
        cancel = refused_page(
            admin, admin.post_form("/admin/calls/2027/cancel", {"reason": long_reason})
        )
        assert "2,001 characters, at most 2,000" in cancel.text
        user = admin.post_form(
            "/admin/users",
            {"email": "new@example.org", "name": "n" * 201, "role": "institute"},
        )
        assert "“Name” is too long" in refused_page(admin, user).text
        with transaction(live.factory) as session:
            assert session.scalar(select(AuditEvent).where(AuditEvent.action == "cancel")) is None
    finally:
        admin.close()


def test_the_report_review_form_holds_the_api_limit(live: Live) -> None:
    institute = visitor(live.url, "institute@example.org")
    try:
        with transaction(live.factory) as session:
            report = session.scalars(
                select(Report).where(Report.state == "submitted").order_by(Report.id)
            ).first()
            assert report is not None  # the demo's Valmiera report waiting for review
            report_id = report.id
        sent = institute.post_form(
            f"/reports/{report_id}/act",
            {"trigger": "return_for_revision", "comment": "c" * 5_001, "confirm": "yes"},
        )
        sent = refused_page(institute, sent)
        assert "“Comment for the city” is too long: 5,001 characters, at most 5,000" in sent.text
        with transaction(live.factory) as session:
            stored = session.get(Report, report_id)
            assert stored is not None and stored.state == "submitted"
    finally:
        institute.close()


# --- the audit log is append-only ------------------------------------------------------


def test_the_audit_log_refuses_update_delete_and_truncate(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            AuditEvent.__table__.insert().values(  # type: ignore[attr-defined]
                at=utc(2027, 3, 2),
                actor_name="test",
                role="admin",
                subject_type="application",
                subject_id=1,
                action="create",
                comment="original",
            )
        )
    statements = ["UPDATE audit_events SET comment = 'rewritten'", "DELETE FROM audit_events"]
    if engine.dialect.name == "postgresql":
        # A row trigger does not see TRUNCATE; the statement trigger of migration 0005 does.
        statements += ["TRUNCATE audit_events", "TRUNCATE audit_events RESTART IDENTITY CASCADE"]
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT comment FROM audit_events")).scalars().all() == [
            "original"
        ]


# --- no token in the access log --------------------------------------------------------


class Collected(logging.Handler):
    """The access log's lines as uvicorn's formatter writes them."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def access_log(live: Live) -> Iterator[Collected]:
    """The live portal's access log switched on (the tests' server logs warnings only)."""
    logger = logging.getLogger("uvicorn.access")
    collected, level = Collected(), logger.level
    logger.addHandler(collected)
    logger.setLevel(logging.INFO)
    try:
        yield collected
    finally:
        logger.setLevel(level)
        logger.removeHandler(collected)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_access_log_shows_no_token(live: Live, access_log: Collected) -> None:
    token = secrets.token_urlsafe(32)
    with httpx.Client(base_url=live.url, timeout=30) as anonymous:
        anonymous.get(f"/invitation/{token}")
        anonymous.get(f"/reset/{token}?next=/")
        anonymous.get(f"/login?token={token}")
        anonymous.get("/login")
    assert len(access_log.lines) == 4, access_log.lines
    assert all(token not in line for line in access_log.lines)
    assert '"GET /invitation/… HTTP/1.1"' in access_log.lines[0]
    assert '"GET /reset/…?next=/ HTTP/1.1"' in access_log.lines[1]
    assert '"GET /login?token=… HTTP/1.1"' in access_log.lines[2]
    assert '"GET /login HTTP/1.1" 200' in access_log.lines[3]  # the rest as it was
    filters = logging.getLogger("uvicorn.access").filters
    assert any(isinstance(f, SecretPathFilter) for f in filters)


def test_secret_segments_and_parameters_are_hidden_and_nothing_else() -> None:
    assert hide_secrets("/invitation/abc.DEF-123_x") == "/invitation/…"
    assert hide_secrets("/calendar/s3cr3t/feed.ics") == "/calendar/…/feed.ics"
    assert hide_secrets("/x?a=1&Token=abc&b=2") == "/x?a=1&Token=…&b=2"
    for kept in ("/applications/12/edit", "/api/v1/tokens/3", "/invitation/", "/login?next=/"):
        assert hide_secrets(kept) == kept


# --- caching and transport headers -----------------------------------------------------


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_signed_in_answers_are_not_stored_static_files_are(live: Live, city: Visitor) -> None:
    page = city.pages.get("/")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    api = city.api.get("/api/v1/me")
    assert api.status_code == 200 and api.headers["cache-control"] == "no-store"
    refused = city.api.get("/api/v1/applications/999999")
    assert refused.status_code == 404 and refused.headers["cache-control"] == "no-store"
    static = city.pages.get("/static/style.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")
    assert "etag" in static.headers  # revalidated, not refetched
    # Served over http (the tests' portal): no HSTS, which would lock browsers out.
    assert "strict-transport-security" not in page.headers


def test_an_https_portal_sends_hsts_on_every_answer(sqlite_url: str, tmp_path: Path) -> None:
    settings = load_settings({}).with_overrides(
        database={"url": sqlite_url},
        mail={"maildir": str(tmp_path / "mail")},
        web={"public_url": "https://gnlc.example.org", "secret_key": secrets.token_hex(32)},
    )
    engine = make_engine(sqlite_url)
    app = create_app(settings, session_factory(engine))

    async def answers() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)  # the app itself, in this process
        async with httpx.AsyncClient(transport=transport, base_url=settings.web.public_url) as c:
            return [await c.get(p) for p in ("/login", "/static/style.css", "/api/v1/me")]

    try:
        login, static, api = asyncio.run(answers())
    finally:
        engine.dispose()
    for answer in (login, static, api):
        assert answer.headers["strict-transport-security"] == (
            "max-age=31536000; includeSubDomains"
        )
    assert login.status_code == 200 and login.headers["cache-control"] == "no-store"
    assert api.status_code == 401 and api.headers["cache-control"] == "no-store"
    assert static.status_code == 200 and "cache-control" not in static.headers
