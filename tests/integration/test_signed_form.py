"""The signed form is a rule of the submit service: every interface obeys it.

Both submission routes are refused until the form signed by the mayor (a PDF) is on file,
whether the city submits through the services, the command line (``gnlc app attach``
then ``submit``) or the JSON API; the pages say the same (tests/integration/test_uploads.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app as gnlc_app
from tests.conftest import World, utc
from tests.e2e.clients import visitor
from tests.e2e.live import live_portal
from workflow.db import transaction
from workflow.models import Application, AuditEvent
from workflow.services import submissions
from workflow.uploads import SignedFormMissing

IN_2027 = utc(2027, 3, 10, 9)
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
FORM = [
    "--motivation", "Jelgava wants every resident learning.",
    "--plan", "Festivals, a map of providers, yearly monitoring.",
    "--challenge", "governance=3", "--challenge", "funding=4", "--challenge", "partnerships=2",
    "--challenge", "monitoring=3", "--challenge", "inclusion=4",
    "--signed-by", "Andris Rāviņš",
]  # fmt: skip


def state_of(world: World, app_id: int) -> str:
    with world.factory() as session:
        found = session.get(Application, app_id)
        assert found is not None
        return found.state


def test_both_routes_are_refused_until_the_signed_form_is_on_file(world: World) -> None:
    jelgava = world.city("Jelgava")
    app_id = world.draft("Jelgava", IN_2027, signed=False)
    attach = f"gnlc app attach {app_id} FILE"
    with pytest.raises(SignedFormMissing, match=attach), transaction(world.factory) as session:
        submissions.submit(session, world.settings, jelgava, app_id, now=IN_2027)
    with pytest.raises(SignedFormMissing, match="mayor"), transaction(world.factory) as session:
        submissions.submit_direct(
            session, world.settings, jelgava, app_id, now=IN_2027, endorsement="L-1"
        )
    assert state_of(world, app_id) == "draft"
    # a name on the application with no stored file behind it is not "on file"
    with transaction(world.factory) as session:
        found = session.get(Application, app_id)
        assert found is not None
        found.signed_form = "1-forged.pdf"
    with pytest.raises(SignedFormMissing), transaction(world.factory) as session:
        submissions.submit(session, world.settings, jelgava, app_id, now=IN_2027)
    assert state_of(world, app_id) == "draft"

    world.attach("Jelgava", app_id, IN_2027)
    with transaction(world.factory) as session:
        submissions.submit(session, world.settings, jelgava, app_id, now=IN_2027)
    assert state_of(world, app_id) == "submitted"


def test_the_direct_route_is_refused_without_it_and_claims_no_quota(world: World) -> None:
    app_id = world.draft("Lyon", IN_2027, signed=False)
    with pytest.raises(SignedFormMissing), transaction(world.factory) as session:
        submissions.submit_direct(
            session, world.settings, world.city("Lyon"), app_id, now=IN_2027, endorsement="E"
        )
    with world.factory() as session:
        found = session.get(Application, app_id)
        assert found is not None
        assert submissions.endorsements_used(session, found.call_id, "FR") == 0
    world.attach("Lyon", app_id, IN_2027)
    with transaction(world.factory) as session:
        submissions.submit_direct(
            session, world.settings, world.city("Lyon"), app_id, now=IN_2027, endorsement="E"
        )
    assert state_of(world, app_id) == "forwarded"


@pytest.fixture
def gnlc(db_url: str, tmp_path: Path) -> CliRunner:
    runner = CliRunner(
        env={"GNLC_DATABASE__URL": db_url, "GNLC_MAIL__MAILDIR": str(tmp_path / "mail")}
    )
    for kind in ("countries", "cities"):
        result = runner.invoke(gnlc_app, ["import", kind, str(EXAMPLES / f"{kind}.csv")])
        assert result.exit_code == 0, result.output
    return runner


def test_the_command_line_attaches_the_pdf_and_only_then_submits(
    gnlc: CliRunner, tmp_path: Path
) -> None:
    def run(*args: str, code: int = 0) -> str:
        result = gnlc.invoke(gnlc_app, list(args))
        assert result.exit_code == code, (args, result.output)
        assert "Traceback" not in result.output
        return result.output

    city = ("--as", "city:Jelgava", "--now", "2019-04-09")
    app_id = str(json.loads(run("app", "new", *city, *FORM, "--json"))["id"])
    refused = run("app", "submit", app_id, *city, code=1)
    assert "Upload the form signed by the mayor (PDF) before submitting" in refused
    assert f"gnlc app attach {app_id} FILE" in refused
    refused = run("app", "submit-direct", app_id, *city, "--endorsement", "L-1", code=1)
    assert "signed by the mayor" in refused

    # checked as the portal checks it: by content, size and who may attach
    text = tmp_path / "form.pdf"
    text.write_text("not a PDF at all")
    assert "not a PDF" in run("app", "attach", app_id, str(text), *city, code=1)
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    assert "The file is empty" in run("app", "attach", app_id, str(empty), *city, code=1)
    assert "Cannot read" in run("app", "attach", app_id, str(tmp_path / "none.pdf"), *city, code=1)
    pdf = str(EXAMPLES / "signed-form.pdf")
    other = run("app", "attach", app_id, pdf, "--as", "commission:LV", code=1)
    assert "Only city may upload the signed form" in other

    attached = json.loads(run("app", "attach", app_id, pdf, *city, "--json"))
    assert attached["filename"] == "signed-form.pdf"
    assert attached["size"] == (EXAMPLES / "signed-form.pdf").stat().st_size
    run("app", "submit", app_id, *city)
    shown = json.loads(run("app", "show", app_id, "--json"))
    assert shown["state"] == "submitted"
    assert [e["action"] for e in shown["history"]] == ["create", "upload_signed_form", "submit"]


def test_the_api_refuses_a_submission_without_the_signed_form(db_url: str, tmp_path: Path) -> None:
    pdf = (EXAMPLES / "signed-form.pdf").read_bytes()
    with live_portal(db_url, tmp_path, IN_2027) as live:
        city = visitor(live.url, "jelgava@example.org")
        try:
            created = city.api.post(
                "/api/v1/applications",
                json={
                    "motivation": "Learning for all ages.",
                    "implementation_plan": "Festivals and a yearly review.",
                    "challenges": {
                        "governance": 3,
                        "funding": 3,
                        "partnerships": 3,
                        "monitoring": 3,
                        "inclusion": 3,
                    },
                    "signed_by": "The Mayor",
                },
            )
            assert created.status_code == 201, created.text
            app_id = created.json()["id"]
            for trigger, body in (("submit", {}), ("submit_direct", {"endorsement": "L-1"})):
                refused = city.api.post(
                    f"/api/v1/applications/{app_id}/actions/{trigger}", json=body
                )
                assert refused.status_code == 422, refused.text
                assert refused.json()["code"] == "invalid_input"
                assert "signed by the mayor" in refused.json()["message"]
            uploaded = city.api.post(
                f"/api/v1/applications/{app_id}/signed-form",
                files={"file": ("signed-form.pdf", pdf, "application/pdf")},
            )
            assert uploaded.status_code == 200, uploaded.text
            done = city.api.post(f"/api/v1/applications/{app_id}/actions/submit", json={})
            assert done.status_code == 200, done.text
            assert done.json()["state"] == "submitted"
        finally:
            city.close()
        with live.factory() as session:
            actions = [
                e.action
                for e in session.query(AuditEvent)
                .filter_by(subject_type="application", subject_id=app_id)
                .order_by(AuditEvent.id)
            ]
        assert actions == ["create", "upload_signed_form", "submit"]
