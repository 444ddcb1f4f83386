"""Progress reports as questionnaires on SQLite and PostgreSQL: a draft is saved at any
time; submission is refused naming each missing question; the Institute returns the
report with comments per section; the city resubmits; the Institute accepts; each
version is kept; supporting files are checked by content; the CSV of the cycle has one
row per report and one column per question."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import app as cli_app
from config.paths import uploads_folder
from tests.conftest import INSTITUTE, SIGNED_PDF, World, utc
from tests.e2e.clients import visitor
from tests.e2e.live import Live, live_portal
from tests.integration.test_reports import admit, ensure, report_id
from workflow import questionnaires as qn
from workflow.db import transaction
from workflow.errors import NotAllowed
from workflow.models import City, Membership, Report
from workflow.services import questionnaire_reports as qr
from workflow.services import reports as report_service
from workflow.uploads import UploadRefused

DUE = date(2018, 3, 31)
FULL = {
    "highlights": "Ten new community learning centres opened.",
    "learners_reached": "12 500",
    "main_area": "families_communities",
    "actions": "Family reading circles in every district.",
    "partners": "The regional university and the public libraries.",
    "network_exchange": "yes",
    "monitoring": "A yearly survey of adult participation.",
    "challenges": "Funding for rural districts.",
    "plans": "Two more centres and a learning festival.",
}


def a_report(world: World) -> int:
    membership_id = admit(world, "Jelgava", 2016, utc(2016, 6, 1))
    ensure(world, membership_id, date(2017, 12, 1))
    return report_id(world, membership_id, DUE)


def test_the_default_questionnaire_has_the_public_structure() -> None:
    questionnaire = qn.for_cycle(DUE)
    assert questionnaire is not None and questionnaire.version == "2026"
    assert [s.key for s in questionnaire.sections] == [
        "achievements",
        "key_features",
        "partnerships",
        "monitoring",
        "challenges",
        "plans",
        "documents",
    ]
    kinds = {q.kind for _, q in questionnaire.questions}
    assert kinds == set(qn.KINDS)
    for _, q in questionnaire.questions:
        assert set(q.titles) == set(qn.LANGUAGES) and all(q.titles.values())


def test_fill_refuse_return_resubmit_accept_and_the_cycle_csv(world: World) -> None:
    key = a_report(world)
    city = world.city("Jelgava")
    # A draft is saved at any time, even over a limit (the limit is said at submission).
    with transaction(world.factory) as session:
        qr.save_draft(
            session, city, key, {"highlights": "word " * 600, "main_area": "x"}, now=utc(2018, 1, 5)
        )
    with world.factory() as session:
        report = session.get(Report, key)
        assert report is not None
        assert report.questionnaire == "2026" and report.state == "open"
        assert report.answers["main_area"] == "x"

    with transaction(world.factory) as session, pytest.raises(qr.AnswersIncomplete) as refused:
        qr.submit_answers(session, world.settings, city, key, now=utc(2018, 1, 6))
    named = {(p.question.key, p.why) for p in refused.value.problems}
    assert named == {
        ("highlights", "too_long"),
        ("main_area", "not_option"),
        ("actions", "missing"),
        ("partners", "missing"),
        ("network_exchange", "missing"),
        ("monitoring", "missing"),
        ("challenges", "missing"),
        ("plans", "missing"),
    }
    assert refused.value.reason == "invalid_input.answers_incomplete"
    questions = refused.value.params["questions"]
    assert isinstance(questions, list)
    assert {"en": "Your plans for the next two years"}.items() <= questions[-1].items()

    # A supporting file is checked by its content, not its name.
    folder = uploads_folder(world.settings)
    with transaction(world.factory) as session, pytest.raises(qr.FileNotAccepted):
        qr.store_file(
            session,
            world.settings,
            city,
            key,
            question="evidence",
            filename="report.pdf",
            data=b"MZ\x90\x00 not a pdf",
            folder=folder,
            now=utc(2018, 1, 6),
        )
    big = b"%PDF-" + b"0" * world.settings.web.upload_max_bytes
    with transaction(world.factory) as session, pytest.raises(UploadRefused):
        qr.store_file(
            session,
            world.settings,
            city,
            key,
            question="evidence",
            filename="big.pdf",
            data=big,
            folder=folder,
            now=utc(2018, 1, 6),
        )
    with transaction(world.factory) as session:
        record = qr.store_file(
            session,
            world.settings,
            city,
            key,
            question="evidence",
            filename="survey.png",
            data=b"\x89PNG\r\n\x1a\n" + b"1" * 100,
            folder=folder,
            now=utc(2018, 1, 6),
        )
        assert record.content_type == "image/png"
        file_id = record.id
    assert list(folder.glob("report-*"))

    with transaction(world.factory) as session:
        qr.save_draft(session, city, key, FULL, now=utc(2018, 1, 7))
        qr.submit_answers(session, world.settings, city, key, now=utc(2018, 1, 8))
    with world.factory() as session:
        report = session.get(Report, key)
        assert report is not None and report.state == "submitted" and not report.late
        (first,) = qr.versions_of(session, key)
        assert first.answers["learners_reached"] == 12500
        assert first.answers["network_exchange"] is True
        assert first.files == {"evidence": [file_id]}

    # The Institute returns it with comments on two sections.
    with transaction(world.factory) as session, pytest.raises(NotAllowed):
        qr.review_answers(
            session, world.settings, city, key, "accept", now=utc(2018, 2, 1), comments={}
        )
    with transaction(world.factory) as session:
        qr.review_answers(
            session,
            world.settings,
            INSTITUTE,
            key,
            "return_for_revision",
            now=utc(2018, 2, 1),
            comments={"challenges": "Say which districts.", "plans": "Give dates.", "nope": "x"},
        )
    with world.factory() as session:
        report = session.get(Report, key)
        assert report is not None and report.state == "returned"
        assert qr.returned_comments(session, report) == {
            "challenges": "Say which districts.",
            "plans": "Give dates.",
        }

    # The city revises and resubmits after the due date: late; then accepted.
    with transaction(world.factory) as session:
        qr.save_draft(
            session,
            city,
            key,
            {"challenges": "Funding in Zaļenieki and Svēte."},
            now=utc(2018, 4, 2),
        )
        qr.submit_answers(session, world.settings, city, key, now=utc(2018, 4, 3))
    with transaction(world.factory) as session:
        qr.review_answers(
            session,
            world.settings,
            INSTITUTE,
            key,
            "accept",
            now=utc(2018, 4, 9),
            comments={"plans": "Thank you."},
        )
    with world.factory() as session:
        report = session.get(Report, key)
        assert report is not None and report.state == "accepted" and report.late
        first, second = qr.versions_of(session, key)
        assert (first.outcome, second.outcome) == ("returned", "accepted")
        assert first.answers["challenges"] == "Funding for rural districts."
        assert second.answers["challenges"] == "Funding in Zaļenieki and Svēte."
        assert second.late and not first.late
        with pytest.raises(qr.NotAnswerable):
            qr.save_draft(session, city, key, {"plans": "more"}, now=utc(2018, 4, 10))

        text = qr.cycle_csv(session, INSTITUTE, DUE, lang="fr")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1
    (row,) = rows
    assert row["city"] == "Jelgava" and row["state"] == "accepted" and row["late"] == "yes"
    assert row["challenges"] == "Funding in Zaļenieki and Svēte."
    assert row["main_area"] == "Apprentissage dans les familles et les communautés"
    assert row["network_exchange"] == "yes" and row["evidence"] == "1"
    questionnaire = qn.for_cycle(DUE)
    assert questionnaire is not None
    assert [
        k
        for k in rows[0]
        if k not in {"report", "city", "country", "state", "submitted", "late", "questionnaire"}
    ] == [q.key for _, q in questionnaire.questions]
    with world.factory() as session, pytest.raises(NotAllowed):
        qr.cycle_csv(session, city, DUE)


def test_an_old_report_with_a_summary_keeps_its_summary(world: World) -> None:
    key = a_report(world)
    with transaction(world.factory) as session:
        report_service.submit_report(
            session,
            world.settings,
            world.city("Jelgava"),
            key,
            now=utc(2018, 1, 8),
            summary="Our year.",
        )
    with world.factory() as session:
        report = session.scalars(select(Report).where(Report.id == key)).one()
        assert qr.questionnaire_of(report) is None and report.summary == "Our year."
        with pytest.raises(qr.NoQuestionnaire):
            qr.submit_answers(
                session, world.settings, world.city("Jelgava"), key, now=utc(2018, 1, 9)
            )


def test_compliance_per_cycle(world: World) -> None:
    key = a_report(world)
    with world.factory() as session:
        (cycle,) = [
            c for c in qr.cycle_compliance(session, INSTITUTE, date(2018, 5, 1)) if c.due_on == DUE
        ]
        assert (cycle.on_time, cycle.late, cycle.missing) == (0, 0, 1)
    with transaction(world.factory) as session:
        qr.save_draft(session, world.city("Jelgava"), key, FULL, now=utc(2018, 3, 1))
        qr.submit_answers(session, world.settings, world.city("Jelgava"), key, now=utc(2018, 3, 2))
    with world.factory() as session:
        (cycle,) = [
            c for c in qr.cycle_compliance(session, INSTITUTE, date(2018, 5, 1)) if c.due_on == DUE
        ]
        assert (cycle.on_time, cycle.late, cycle.missing) == (1, 0, 0)


# --- the portal and the API ----------------------------------------------------------------


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(db_url, tmp_path, datetime(2027, 3, 10, 9, tzinfo=UTC)) as portal:
        yield portal


def shown(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_the_portal_and_api_fill_refuse_return_resubmit_accept(live: Live) -> None:
    city = visitor(live.url, "valmiera@example.org")
    institute = visitor(live.url, "institute@example.org")
    try:
        with live.factory.begin() as session:
            membership_id = session.scalars(
                select(Membership.id).join(City).where(City.name == "Valmiera")
            ).one()
            report = Report(
                membership_id=membership_id,
                due_on=date(2027, 3, 31),
                state="open",
                created_at=datetime(2026, 12, 1, tzinfo=UTC),
            )
            session.add(report)
            session.flush()
            key = report.id
        path = f"/reports/{key}/questionnaire"
        assert "Answer the questionnaire" in city.pages.get(f"/reports/{key}").text
        # In French: a draft with one answer, then a submission refused naming the rest.
        assert city.post_form("/language", {"lang": "fr", "next": "/"}).status_code == 303
        saved = city.post_form(path, {"q_highlights": "Un festival.", "submit": "no"})
        assert saved.headers["location"] == path + "?done=quest_saved"
        refused = city.post_form(path, {"q_highlights": "Un festival.", "submit": "yes"})
        assert refused.status_code == 303 and refused.headers["location"] == path
        text = shown(city.pages.get(path).text)
        assert "Le rapport ne peut pas encore être envoyé" in text
        assert "Vos projets pour les deux prochaines années" in text
        assert "Les principales réalisations" in text  # the question's title, not its key
        assert "plans" not in text.split("Le rapport ne peut")[1].split(".")[0]
        # A file of the wrong kind, then a PDF.
        bad = city.pages.post(
            f"/reports/{key}/files",
            data={"csrf_token": city.csrf, "question": "evidence"},
            files={"file": ("a.pdf", b"MZ..")},
        )
        assert bad.status_code == 303
        assert "ni un PDF" in shown(city.pages.get(path).text)
        good = city.pages.post(
            f"/reports/{key}/files",
            data={"csrf_token": city.csrf, "question": "evidence"},
            files={"file": ("a.pdf", SIGNED_PDF)},
        )
        assert good.headers["location"] == path + "?done=quest_attached"
        answers = {f"q_{k}": v for k, v in FULL.items()}
        sent = city.post_form(path, {**answers, "submit": "yes"})
        assert sent.headers["location"] == path + "?done=report_submit", shown(
            city.pages.get(path).text
        )[:800]

        # The Institute returns it with a comment on the plans (through the API).
        returned = institute.api.post(
            f"/api/v1/reports/{key}/questionnaire/review",
            json={"trigger": "return_for_revision", "comments": {"plans": "Give the dates."}},
        )
        assert returned.status_code == 200, returned.text
        assert returned.json()["state"] == "returned"
        page = shown(city.pages.get(path).text)
        plans = page.index("Projets pour les deux prochaines années")
        assert page.index("Give the dates.") > plans
        # The city resubmits through the API; the Institute accepts on the page.
        api = city.api.put(
            f"/api/v1/reports/{key}/answers",
            json={"answers": {"plans": "Two centres in 2028, a festival in 2029."}},
        )
        assert api.status_code == 200, api.text
        assert api.json()["answers"]["plans"].startswith("Two centres")
        assert city.api.post(f"/api/v1/reports/{key}/answers/submit", json={}).status_code == 200
        accepted = institute.post_form(
            path + "/review", {"trigger": "accept", "c_plans": "Thank you."}
        )
        assert accepted.headers["location"] == path + "?done=report_accept"
        versions = institute.api.get(f"/api/v1/reports/{key}/versions").json()
        assert [v["outcome"] for v in versions] == ["returned", "accepted"]
        first = shown(institute.pages.get(path + "?version=1").text)
        assert "Give the dates." in first and "Two learning" not in first
        printed = institute.pages.get(f"/reports/{key}/print")
        assert printed.status_code == 200 and "Two centres in 2028" in shown(printed.text)
        with live.factory() as session:
            due = session.get(Report, key).due_on  # type: ignore[union-attr]
        table = institute.pages.get(f"/report-cycles/{due.isoformat()}.csv")
        assert table.status_code == 200
        rows = list(csv.DictReader(io.StringIO(table.text.lstrip("\ufeff"))))
        assert [r["plans"] for r in rows if r["report"] == str(key)] == [
            "Two centres in 2028, a festival in 2029."
        ]
        assert "Valmiera" in {r["city"] for r in rows}
        assert city.pages.get(f"/report-cycles/{due.isoformat()}.csv").status_code == 403
        cycles = shown(institute.pages.get("/report-cycles").text)
        assert "Report cycles" in cycles
    finally:
        city.close()
        institute.close()


def test_the_command_line_answers_submits_returns_and_exports(
    world: World, db_url: str, tmp_path: Path
) -> None:
    key = a_report(world)
    gnlc = CliRunner(
        env={"GNLC_DATABASE__URL": db_url, "GNLC_MAIL__MAILDIR": str(tmp_path / "mail")}
    )

    def run(*args: str, code: int = 0) -> str:
        result = gnlc.invoke(cli_app, list(args))
        assert result.exit_code == code, (args, result.output)
        return result.output

    city = ("--as", "city:Jelgava")
    pairs = [x for k, v in FULL.items() if k != "plans" for x in ("--set", f"{k}={v}")]
    run("questionnaire", "answer", str(key), *city, *pairs, "--now", "2018-01-05")
    refused = run("questionnaire", "submit", str(key), *city, "--now", "2018-01-06", code=1)
    assert "Your plans for the next two years (missing)" in refused
    run("questionnaire", "answer", str(key), *city, "--set", "plans=Two centres.")
    document = tmp_path / "minutes.pdf"
    document.write_bytes(SIGNED_PDF)
    run("questionnaire", "attach", str(key), str(document), *city, "--now", "2018-01-06")
    run("questionnaire", "submit", str(key), *city, "--now", "2018-01-07")
    run(
        "questionnaire",
        "review",
        str(key),
        "return",
        "--as",
        "institute",
        "--section",
        "plans=Give dates.",
        "--now",
        "2018-02-01",
    )
    shown = json.loads(run("questionnaire", "answers", str(key), *city, "--json"))
    assert shown["state"] == "returned" and shown["comments"] == {"plans": "Give dates."}
    run("questionnaire", "submit", str(key), *city, "--now", "2018-02-03")
    run("questionnaire", "review", str(key), "accept", "--as", "institute", "--now", "2018-02-09")
    versions = json.loads(run("questionnaire", "versions", str(key), "--json"))
    assert [v["outcome"] for v in versions] == ["returned", "accepted"]
    table = run("questionnaire", "cycle-csv", DUE.isoformat(), "--as", "institute")
    (row,) = csv.DictReader(io.StringIO(table))
    assert row["plans"] == "Two centres." and row["state"] == "accepted"
    cycles = json.loads(run("questionnaire", "cycles", "--now", "2018-05-01", "--json"))
    assert {
        "due_on": DUE.isoformat(),
        "on_time": 1,
        "late": 0,
        "missing": 0,
        "not_due": 0,
    } in cycles
    assert json.loads(run("questionnaire", "show", "--json"))["version"] == "2026"
