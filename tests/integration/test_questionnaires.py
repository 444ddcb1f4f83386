"""Progress reports as questionnaires on SQLite and PostgreSQL: a draft is saved at any
time; submission is refused naming each missing question; the Institute returns the
report with comments per section; the city resubmits; the Institute accepts; each
version is kept; supporting files are checked by content; the CSV of the cycle has one
row per report and one column per question."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import select

from config.paths import uploads_folder
from tests.conftest import INSTITUTE, World, utc
from tests.integration.test_reports import admit, ensure, report_id
from workflow import questionnaires as qn
from workflow.db import transaction
from workflow.errors import NotAllowed
from workflow.models import Report
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
        "achievements", "key_features", "partnerships", "monitoring", "challenges", "plans",
        "documents",
    ]  # fmt: skip
    kinds = {q.kind for _, q in questionnaire.questions}
    assert kinds == set(qn.KINDS)
    for _, q in questionnaire.questions:
        assert set(q.titles) == set(qn.LANGUAGES) and all(q.titles.values())


def test_fill_refuse_return_resubmit_accept_and_the_cycle_csv(world: World) -> None:
    key = a_report(world)
    city = world.city("Jelgava")
    # A draft is saved at any time, even over a limit (the limit is said at submission).
    with transaction(world.factory) as session:
        qr.save_draft(session, city, key, {"highlights": "word " * 600, "main_area": "x"},
                      now=utc(2018, 1, 5))  # fmt: skip
    with world.factory() as session:
        report = session.get(Report, key)
        assert report is not None
        assert report.questionnaire == "2026" and report.state == "open"
        assert report.answers["main_area"] == "x"

    with transaction(world.factory) as session, pytest.raises(qr.AnswersIncomplete) as refused:
        qr.submit_answers(session, world.settings, city, key, now=utc(2018, 1, 6))
    named = {(p.question.key, p.why) for p in refused.value.problems}
    assert named == {
        ("highlights", "too_long"), ("main_area", "not_option"), ("actions", "missing"),
        ("partners", "missing"), ("network_exchange", "missing"), ("monitoring", "missing"),
        ("challenges", "missing"), ("plans", "missing"),
    }  # fmt: skip
    assert refused.value.reason == "invalid_input.answers_incomplete"
    assert {"en": "Your plans for the next two years"}.items() <= refused.value.params[
        "questions"
    ][-1].items()

    # A supporting file is checked by its content, not its name.
    folder = uploads_folder(world.settings)
    with transaction(world.factory) as session, pytest.raises(qr.FileNotAccepted):
        qr.store_file(session, world.settings, city, key, question="evidence",
                      filename="report.pdf", data=b"MZ\x90\x00 not a pdf", folder=folder,
                      now=utc(2018, 1, 6))  # fmt: skip
    big = b"%PDF-" + b"0" * world.settings.web.upload_max_bytes
    with transaction(world.factory) as session, pytest.raises(UploadRefused):
        qr.store_file(session, world.settings, city, key, question="evidence",
                      filename="big.pdf", data=big,
                      folder=folder, now=utc(2018, 1, 6))  # fmt: skip
    with transaction(world.factory) as session:
        record = qr.store_file(session, world.settings, city, key, question="evidence",
                               filename="survey.png", data=b"\x89PNG\r\n\x1a\n" + b"1" * 100,
                               folder=folder, now=utc(2018, 1, 6))  # fmt: skip
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
        qr.review_answers(session, world.settings, city, key, "accept", now=utc(2018, 2, 1),
                          comments={})  # fmt: skip
    with transaction(world.factory) as session:
        qr.review_answers(
            session, world.settings, INSTITUTE, key, "return_for_revision", now=utc(2018, 2, 1),
            comments={"challenges": "Say which districts.", "plans": "Give dates.", "nope": "x"},
        )  # fmt: skip
    with world.factory() as session:
        report = session.get(Report, key)
        assert report is not None and report.state == "returned"
        assert qr.returned_comments(session, report) == {
            "challenges": "Say which districts.",
            "plans": "Give dates.",
        }

    # The city revises and resubmits after the due date: late; then accepted.
    with transaction(world.factory) as session:
        qr.save_draft(session, city, key, {"challenges": "Funding in Zaļenieki and Svēte."},
                      now=utc(2018, 4, 2))  # fmt: skip
        qr.submit_answers(session, world.settings, city, key, now=utc(2018, 4, 3))
    with transaction(world.factory) as session:
        qr.review_answers(session, world.settings, INSTITUTE, key, "accept", now=utc(2018, 4, 9),
                          comments={"plans": "Thank you."})  # fmt: skip
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
    assert [k for k in rows[0] if k not in {"report", "city", "country", "state", "submitted",
            "late", "questionnaire"}] == [q.key for _, q in questionnaire.questions]  # fmt: skip
    with world.factory() as session, pytest.raises(NotAllowed):
        qr.cycle_csv(session, city, DUE)


def test_an_old_report_with_a_summary_keeps_its_summary(world: World) -> None:
    key = a_report(world)
    with transaction(world.factory) as session:
        report_service.submit_report(session, world.settings, world.city("Jelgava"), key,
                                     now=utc(2018, 1, 8), summary="Our year.")  # fmt: skip
    with world.factory() as session:
        report = session.scalars(select(Report).where(Report.id == key)).one()
        assert qr.questionnaire_of(report) is None and report.summary == "Our year."
        with pytest.raises(qr.NoQuestionnaire):
            qr.submit_answers(session, world.settings, world.city("Jelgava"), key,
                              now=utc(2018, 1, 9))  # fmt: skip


def test_compliance_per_cycle(world: World) -> None:
    key = a_report(world)
    with world.factory() as session:
        (cycle,) = [c for c in qr.cycle_compliance(session, INSTITUTE, date(2018, 5, 1))
                    if c.due_on == DUE]  # fmt: skip
        assert (cycle.on_time, cycle.late, cycle.missing) == (0, 0, 1)
    with transaction(world.factory) as session:
        qr.save_draft(session, world.city("Jelgava"), key, FULL, now=utc(2018, 3, 1))
        qr.submit_answers(session, world.settings, world.city("Jelgava"), key, now=utc(2018, 3, 2))
    with world.factory() as session:
        (cycle,) = [c for c in qr.cycle_compliance(session, INSTITUTE, date(2018, 5, 1))
                    if c.due_on == DUE]  # fmt: skip
        assert (cycle.on_time, cycle.late, cycle.missing) == (1, 0, 0)
