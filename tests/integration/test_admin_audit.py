"""The administration pages of calls, the audit log and the scheduler's preview, through
a running portal: refusals come back to the page with the input kept (Post-Redirect-Get),
only possible actions are offered, the log filters, and the preview changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.e2e.clients import Visitor, visitor
from tests.e2e.live import Live, live_portal
from workflow.actors import Actor
from workflow.db import transaction
from workflow.models import AuditEvent, Call, City, Report
from workflow.services import applications as apps
from workflow.services import calls as call_service
from workflow.services.calls import CallStatus
from workflow.states import Role

START = datetime(2027, 3, 10, 9, tzinfo=UTC)


@pytest.fixture
def live(sqlite_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(sqlite_url, tmp_path, START) as portal:
        yield portal


@pytest.fixture
def admin(live: Live) -> Iterator[Visitor]:
    person = visitor(live.url, "admin@example.org")
    yield person
    person.close()


def shown(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_an_overlapping_call_comes_back_to_the_page_with_the_input_kept(
    live: Live, admin: Visitor
) -> None:
    form = {"form": "create", "name": "spring extra", "opens_on": "2027-04-15",
            "closes_on": "2027-05-15", "quota": "2"}  # fmt: skip
    answer = admin.post_form("/admin/calls", form)
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/calls"
    page = admin.pages.get("/admin/calls")
    text = shown(page.text)
    assert "would overlap call 2027 (March 1, 2027 to April 30, 2027, Europe/Berlin)" in text
    assert 'value="spring extra"' in page.text and 'value="2027-05-15"' in page.text
    # Read once: a reload shows the page fresh.
    assert "would overlap" not in shown(admin.pages.get("/admin/calls").text)
    with live.factory() as session:
        assert session.scalar(select(func.count()).where(Call.name == "spring extra")) == 0


def later_page(live: Live, path: str) -> str:
    person = visitor(live.url, "admin@example.org")
    try:
        return person.pages.get(path).text
    finally:
        person.close()


def test_the_calls_page_offers_only_what_is_possible(live: Live, admin: Visitor) -> None:
    with live.factory() as session:
        lines = {c.name: call_service.line(c, START) for c in session.scalars(select(Call))}
    assert lines["2027"].status is CallStatus.OPEN
    page = admin.pages.get("/admin/calls").text
    assert "/admin/calls/2027/cancel" in page and "/admin/calls/2027/extend" in page
    # Thirty days after the Commission deadline (30 May) nothing remains to do with it.
    live.clock.moment = datetime(2027, 7, 15, 9, tzinfo=UTC)
    page = later_page(live, "/admin/calls")  # signed in that day
    assert "/admin/calls/2027/cancel" not in page and "/admin/calls/2027/extend" not in page
    row = shown(page).split("2027 (from the annual rule)")[1]
    assert row.split("2028")[0].strip().endswith("finished Nothing left to change")
    # While the Commissions decide, only their deadline can move.
    live.clock.moment = datetime(2027, 5, 10, 9, tzinfo=UTC)
    person = visitor(live.url, "admin@example.org")
    try:
        page = person.pages.get("/admin/calls").text
        assert "/admin/calls/2027/extend" in page and "/admin/calls/2027/cancel" not in page
        assert "Extend the Commission deadline" in page
        refused = person.post_form("/admin/calls/2027/extend", {"closes_on": "2027-06-30"})
        assert refused.status_code == 303
        assert "cannot be extended after the fact" in shown(person.pages.get("/admin/calls").text)
    finally:
        person.close()


def test_cancelling_asks_first_and_a_refusal_keeps_the_reason_page(
    live: Live, admin: Visitor
) -> None:
    confirm = admin.pages.get("/admin/calls/2028/cancel")
    assert confirm.status_code == 200
    assert "Cancel call 2028?" in shown(confirm.text) and 'name="reason"' in confirm.text
    with live.factory() as session:
        assert call_service.by_name(session, "2028").cancelled_at is None  # asking changed nothing
    refused = admin.post_form("/admin/calls/2028/cancel", {"reason": "   "})
    assert refused.headers["location"] == "/admin/calls/2028/cancel"
    assert "Say why the call is cancelled" in shown(
        admin.pages.get("/admin/calls/2028/cancel").text
    )
    done = admin.post_form("/admin/calls/2028/cancel", {"reason": "No budget in 2028"})
    assert done.headers["location"] == "/admin/calls?done=cancelled"
    with live.factory() as session:
        assert call_service.by_name(session, "2028").cancel_reason == "No budget in 2028"


def test_a_french_refusal_of_a_call_is_in_french(live: Live, admin: Visitor) -> None:
    admin.post_form("/language", {"lang": "fr", "next": "/"})
    admin.post_form(
        "/admin/calls",
        {"form": "create", "name": "x", "opens_on": "2027-04-15", "closes_on": "2027-05-15"},
    )
    text = shown(admin.pages.get("/admin/calls").text)
    assert "chevaucherait l'appel 2027 (du 1 mars 2027 au 30 avril 2027" in text
    assert "à venir" in text and "ouvert" in text


def test_the_audit_log_filters_by_subject_actor_and_date(live: Live, admin: Visitor) -> None:
    admin.post_form("/admin/calls/2027/extend", {"closes_on": "2027-05-05", "comment": "late"})
    with live.factory() as session:
        other = session.scalars(
            select(AuditEvent).where(AuditEvent.subject_type != "call").order_by(AuditEvent.id)
        ).first()
        total = session.scalar(select(func.count(AuditEvent.id)))
    assert other is not None and total
    kind, key = other.subject_type, other.subject_id
    everything = shown(admin.pages.get("/admin/audit").text)
    assert f"{total} recorded actions" in everything
    calls_only = shown(admin.pages.get("/admin/audit", params={"kind": "call"}).text)
    assert "1 recorded action" in calls_only and "late" in calls_only
    by_admin = admin.pages.get("/admin/audit", params={"actor": "ADMIN@example"}).text
    assert "1 recorded action" in shown(by_admin)
    one = shown(admin.pages.get("/admin/audit", params={"kind": kind, "subject": key}).text)
    assert f"{kind} {key}" in one and "late" not in one
    before = shown(admin.pages.get("/admin/audit", params={"until": "2000-01-01"}).text)
    assert "No recorded action matches this filter." in before
    swapped = shown(
        admin.pages.get("/admin/audit", params={"since": "2027-03-10", "until": "2027-03-01"}).text
    )
    assert "before it begins" in swapped
    bad = admin.pages.get("/admin/audit", params={"subject": "x", "page": "-3"})
    assert bad.status_code == 200 and "was not understood" in shown(bad.text)


def test_the_audit_log_is_not_for_cities(live: Live) -> None:
    city = visitor(live.url, "jelgava@example.org")
    try:
        assert city.pages.get("/admin/audit").status_code == 403
        assert city.pages.get("/admin/preview").status_code == 403
    finally:
        city.close()


def test_the_preview_shows_the_sweep_of_a_day_and_changes_nothing(
    live: Live, admin: Visitor
) -> None:
    def counts() -> tuple[int | None, ...]:
        with live.factory() as session:
            return tuple(
                session.scalar(select(func.count()).select_from(model))
                for model in (AuditEvent, Report, Call)
            )

    with transaction(live.factory) as session:
        city = session.scalars(select(City).where(City.name == "Jelgava")).one()
        actor = Actor(Role.CITY, "Jelgava", country_code=city.country_code, city_id=city.id)
        draft = apps.create_draft(session, live.settings, actor, now=START).id
    before = counts()
    # A draft of the 2027 call not submitted by 30 April expires on 2 May.
    page = admin.pages.get("/admin/preview", params={"on": "2027-05-02"})
    assert page.status_code == 200 and 'value="2027-05-02"' in page.text
    text = shown(page.text)
    assert "nothing was changed or sent" in text
    assert "Applications expired: 1" in text
    assert f"application {draft} expired draft → expired" in text
    assert f'href="/applications/{draft}"' in page.text
    assert counts() == before
    today = admin.pages.get("/admin/preview")
    assert today.status_code == 200 and 'value="2027-03-10"' in today.text
