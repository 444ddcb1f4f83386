"""The application and report pages, as a person uses them: a refused form goes back to
its page (303) with the reason and the input; an action that would be refused is shown
disabled with the reason; a draft over the word limit is saved; the edit form of a sent
application is refused when it is opened; the reviewer's comment comes first; what
cannot be undone asks to be confirmed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from tests.conftest import SIGNED_PDF
from tests.e2e.clients import Visitor, visitor
from tests.e2e.live import Live, live_portal
from workflow.models import Application, Call, Membership, Report
from workflow.states import ReportState

START = datetime(2027, 3, 10, 9, tzinfo=UTC)
WORDS = " ".join(["learning"] * 205)


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(db_url, tmp_path, START) as portal:
        yield portal


def shown(html: str) -> str:
    """The text a reader sees: tags dropped, entities read, spaces collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def back_to(response: httpx.Response, path: str) -> None:
    assert response.status_code == 303, response.text[:300]
    assert response.headers["location"] == path


def form_of(**extra: str) -> dict[str, str]:
    values = {
        "motivation": "Learning for all ages in every district.",
        "implementation_plan": "Map providers; open learning festivals; monitor yearly.",
        "signed_by": "Andris Rāviņš",
        "mayor_name": "Andris Rāviņš",
        "mayor_title": "Mayor",
        "contact_name": "Jelgava focal point",
        "contact_email": "jelgava.lv@demo.example.org",
        **{f"challenge_{a}": "3" for a in
           ("governance", "funding", "partnerships", "monitoring", "inclusion")},
    }  # fmt: skip
    return {**values, **extra}


def new_draft(city: Visitor, **extra: str) -> int:
    saved = city.post_form("/applications", form_of(**extra))
    assert saved.status_code == 303, saved.text[:500]
    found = re.fullmatch(r"/applications/(\d+)\?done=saved", saved.headers["location"])
    assert found, saved.headers["location"]
    return int(found.group(1))


def upload(city: Visitor, app_id: int, data: bytes = SIGNED_PDF) -> httpx.Response:
    return city.pages.post(
        f"/applications/{app_id}/signed-form",
        data={"csrf_token": city.csrf},
        files={"signed_form": ("signed.pdf", data, "application/pdf")},
    )


def act(person: Visitor, app_id: int, trigger: str, **extra: str) -> httpx.Response:
    return person.post_form(
        f"/applications/{app_id}/act", {"trigger": trigger, "confirm": "yes", **extra}
    )


def test_a_draft_over_the_word_limit_is_saved_and_submit_says_what_to_fix(live: Live) -> None:
    city = visitor(live.url, "jelgava@example.org")
    try:
        app_id = new_draft(city, motivation=WORDS)
        page = shown(city.pages.get(f"/applications/{app_id}").text)
        assert "Motivation: word count 205, at most 200." in page
        assert "motivation:" not in page and "(motivation" not in page
        # Submit is offered disabled, with what to fix (the form and the signed PDF).
        html = city.pages.get(f"/applications/{app_id}").text
        assert re.search(r'<button type="button" disabled[^>]*class="primary">Submit to', html)
        assert "Not possible now: Upload the form signed by the mayor" in shown(html)
        assert upload(city, app_id).status_code == 303
        page = shown(city.pages.get(f"/applications/{app_id}").text)
        assert (
            "Not possible now: The form is not ready to be submitted: Motivation: word "
            "count 205, at most 200." in page
        )
        # Posted anyway: refused by the same check, back on the page with the reason.
        refused = act(city, app_id, "submit")
        back_to(refused, f"/applications/{app_id}")
        again = shown(city.pages.get(f"/applications/{app_id}").text)
        assert (
            "Not done: The form is not ready to be submitted: Motivation: word count 205" in again
        )
        with live.factory() as session:
            assert session.get(Application, app_id).state == "draft"  # type: ignore[union-attr]
        # The same page in French names the field by its French label.
        assert city.post_form("/language", {"lang": "fr", "next": "/"}).status_code == 303
        french = shown(city.pages.get(f"/applications/{app_id}").text)
        assert "Motivation : nombre de mots 205, au plus 200." in french
    finally:
        city.close()


def test_a_refused_save_goes_back_to_the_form_with_the_input(live: Live) -> None:
    city = visitor(live.url, "jelgava@example.org")
    try:
        refused = city.post_form(
            "/applications", form_of(contact_email="not an address", implementation_plan="Plan B.")
        )
        back_to(refused, "/applications/new")
        form = city.pages.get("/applications/new")
        assert form.status_code == 200
        assert 'class="alert error"' in form.text
        assert "Plan B." in form.text and 'value="not an address"' in form.text
        # Read once: a reload shows the form fresh.
        assert "Plan B." not in city.pages.get("/applications/new").text
        # The posting address is not a page: GET there is not the form posted again.
        app_id = new_draft(city)
        refused = city.post_form(
            f"/applications/{app_id}/edit", form_of(population="-5", motivation="Kept words.")
        )
        back_to(refused, f"/applications/{app_id}/edit")
        edit = city.pages.get(f"/applications/{app_id}/edit").text
        assert "Kept words." in edit and 'class="alert error"' in edit
        bad = upload(city, app_id, b"MZ not a pdf")
        back_to(bad, f"/applications/{app_id}")
        assert "not a PDF" in city.pages.get(f"/applications/{app_id}").text
    finally:
        city.close()


def test_the_edit_form_of_a_sent_application_is_refused_when_opened(live: Live) -> None:
    city = visitor(live.url, "jelgava@example.org")
    try:
        app_id = new_draft(city)
        assert upload(city, app_id).status_code == 303
        unconfirmed = city.post_form(f"/applications/{app_id}/act", {"trigger": "submit"})
        back_to(unconfirmed, f"/applications/{app_id}")
        assert "Confirm the action first" in city.pages.get(f"/applications/{app_id}").text
        with live.factory() as session:
            assert session.get(Application, app_id).state == "draft"  # type: ignore[union-attr]
        back_to(act(city, app_id, "submit"), f"/applications/{app_id}?done=submit")
        edit = city.pages.get(f"/applications/{app_id}/edit")
        assert edit.status_code == 409
        assert "This application can no longer be edited" in shown(edit.text)
        assert f'href="/applications/{app_id}"' in edit.text
        assert 'name="motivation"' not in edit.text
    finally:
        city.close()


def test_the_commissions_return_comes_first_and_endorse_says_the_quota(live: Live) -> None:
    city = visitor(live.url, "jelgava@example.org")
    commission = visitor(live.url, "commission.lv@example.org")
    try:
        app_id = new_draft(city)
        assert upload(city, app_id).status_code == 303
        back_to(act(city, app_id, "submit"), f"/applications/{app_id}?done=submit")
        # A return without its reason: back with the reason, nothing changed.
        back_to(act(commission, app_id, "return_to_city"), f"/applications/{app_id}")
        page = shown(commission.pages.get(f"/applications/{app_id}").text)
        assert "needs a comment for the city" in page and "--comment" not in page
        back_to(
            act(commission, app_id, "return_to_city", comment="Please add yearly targets."),
            f"/applications/{app_id}?done=return_to_city",
        )
        html = city.pages.get(f"/applications/{app_id}").text
        text = shown(html)
        assert "Returned to the city for changes" in text
        assert "Please add yearly targets." in text
        assert "Laura Commission LV (National Commission)" in text
        assert text.index("Please add yearly targets.") < text.index("What happens next")
        back_to(act(city, app_id, "submit"), f"/applications/{app_id}?done=submit")

        # No endorsement left in the quota: endorse is shown disabled, with the truth.
        with live.factory.begin() as session:
            call_id = session.get(Application, app_id).call_id  # type: ignore[union-attr]
            session.execute(update(Call).where(Call.id == call_id).values(quota=0))
        page = commission.pages.get(f"/applications/{app_id}").text
        assert re.search(r'<button type="button" disabled[^>]*>Endorse and forward', page)
        words = shown(page)
        assert "its quota: no further city can be endorsed in this call" in words
        assert "withdraw an earlier endorsement" not in words
        refused = act(commission, app_id, "endorse", comment="Our letter 12/2027")
        back_to(refused, f"/applications/{app_id}")
        kept = commission.pages.get(f"/applications/{app_id}").text
        assert "ask the Institute" in kept
        # Decline asks to confirm first (a <details> step, no script needed).
        assert '<details class="confirm"' in kept and 'name="confirm" value="yes"' in kept
        assert 'aria-required="true"' in kept
    finally:
        city.close()
        commission.close()


def test_a_returned_report_shows_the_institutes_comment_first(live: Live) -> None:
    institute = visitor(live.url, "institute@example.org")
    city = visitor(live.url, "valmiera@example.org")
    try:
        with live.factory() as session:
            report_id = session.scalars(
                select(Report.id)
                .join(Membership)
                .where(Report.state == ReportState.SUBMITTED.value)
            ).first()
        assert report_id is not None
        path = f"/reports/{report_id}"
        refused = institute.post_form(
            path + "/act", {"trigger": "return_for_revision", "confirm": "yes"}
        )
        back_to(refused, path)
        assert "needs a comment" in institute.pages.get(path).text
        done = institute.post_form(
            path + "/act",
            {
                "trigger": "return_for_revision",
                "confirm": "yes",
                "comment": "Add the 2027 figures.",
            },
        )
        back_to(done, path + "?done=report_return_for_revision")
        text = shown(city.pages.get(path).text)
        assert "Returned for revision by the Institute" in text
        assert text.index("Add the 2027 figures.") < text.index("Content")
        assert "Inès Institute (Institute)" in text
        # The city's resubmission with an empty report: back with the reason, in French.
        assert city.post_form("/language", {"lang": "fr", "next": "/"}).status_code == 303
        empty = city.post_form(
            path + "/act", {"trigger": "submit", "confirm": "yes", "summary": "   "}
        )
        back_to(empty, path)
        french = shown(city.pages.get(path).text)
        assert "Le rapport doit avoir un contenu" in french and "--summary" not in french
    finally:
        institute.close()
        city.close()
