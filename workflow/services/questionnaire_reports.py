"""Progress reports answered as questionnaires (:mod:`workflow.questionnaires`).

The city saves a draft at any time (answers as JSON per question, never blocked by the
limits) and submits when every required answer is there: the refusal names each missing
question. Supporting files are checked by content and size and count towards the city's
quota (:mod:`workflow.uploads`). Each submission is kept as a :class:`ReportVersion`;
the Institute comments per section when it accepts or returns the report, and a returned
report shows those comments beside their sections. The report's states and steps are the
``report`` machine's (submit, accept, return_for_revision), as for the old reports that
carry only a summary.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
import zipfile
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
from workflow import questionnaires as qn
from workflow import uploads
from workflow.actors import Actor, require_role
from workflow.calendar import on_or_before
from workflow.errors import InvalidInput, NotFound
from workflow.machines import REPORT
from workflow.models import City, Report, ReportFile, ReportVersion
from workflow.services import reports as report_service
from workflow.services.common import audit, fire, flush, get, publish
from workflow.services.memberships import timezone_of
from workflow.states import ReportState as R
from workflow.states import Role

#: The states in which a city may still write its answers.
WRITABLE = (R.OPEN.value, R.OVERDUE.value, R.RETURNED.value)


class NoQuestionnaire(InvalidInput):
    why = "no_questionnaire"

    def __init__(self, report_id: int) -> None:
        super().__init__(
            f"Report {report_id} has no questionnaire; submit it with a summary.",
            key=report_id,
        )


class AnswersIncomplete(InvalidInput):
    """A submission with required answers missing or answers out of their limits: the
    refusal names each question (``questions``: its title in every language)."""

    why = "answers_incomplete"

    def __init__(self, problems: list[qn.Problem]) -> None:
        self.problems = problems
        names = "; ".join(f"{p.question.title('en')} ({p.why})" for p in problems)
        super().__init__(
            f"The report cannot be submitted yet: {names}.",
            questions=[p.question.titles for p in problems],
            count=len(problems),
        )


class NotAnswerable(InvalidInput):
    why = "answers_locked"

    def __init__(self, report_id: int, state: str) -> None:
        super().__init__(
            f"Report {report_id} is {state}; its answers can change only while it is open, "
            "overdue or returned.",
            kind="report",
            key=report_id,
            state=state,
        )


class FileNotAccepted(InvalidInput):
    why = "report_file_type"

    def __init__(self) -> None:
        super().__init__(
            "The file is not a PDF, an image (PNG, JPEG, GIF) or an office document.",
        )


class UnknownQuestion(InvalidInput):
    why = "unknown_question"

    def __init__(self, key: str) -> None:
        super().__init__(f"The questionnaire has no file question {key!r}.")


def questionnaire_of(report: Report) -> qn.Questionnaire | None:
    """The version the report is answered in: its own once answered; an unanswered
    report that is still to be written uses its cycle's; an old report submitted with a
    summary has none."""
    if report.questionnaire:
        return qn.version(report.questionnaire)
    if report.summary:
        return None
    return qn.for_cycle(report.due_on)


def _require(report: Report) -> qn.Questionnaire:
    found = questionnaire_of(report)
    if found is None:
        raise NoQuestionnaire(report.id)
    return found


def _check_writable(actor: Actor, report: Report) -> None:
    require_role(actor, Role.CITY, doing="answer the report's questionnaire")
    if report.state not in WRITABLE:
        raise NotAnswerable(report.id, report.state)


def save_draft(
    session: Session,
    actor: Actor,
    report_id: int,
    answers: Mapping[str, object],
    *,
    now: datetime,
) -> Report:
    """Store the answers given (an empty one removes the answer); never refused for a
    limit: the problems are said on the page and at submission."""
    report = report_service._load_report(session, actor, report_id)
    _check_writable(actor, report)
    questionnaire = _require(report)
    report.questionnaire = questionnaire.version
    merged = dict(report.answers or {})
    for key in answers:
        merged.pop(key, None)
    merged.update(qn.clean(questionnaire, answers))
    report.answers = merged
    flush(session, "report", report.id)
    audit(session, actor, subject_type="report", subject_id=report.id, action="save_draft", now=now)
    return report


def files_of(session: Session, report_id: int, *, current: bool = True) -> list[ReportFile]:
    query = select(ReportFile).where(ReportFile.report_id == report_id)
    if current:
        query = query.where(ReportFile.removed_at.is_(None))
    return list(session.scalars(query.order_by(ReportFile.id)))


def _answers_with_files(session: Session, report: Report) -> dict[str, Any]:
    answers = dict(report.answers or {})
    for f in files_of(session, report.id):
        answers[f.question] = [*answers.get(f.question, []), f.id]
    return answers


def submit_answers(
    session: Session,
    settings: Settings,
    actor: Actor,
    report_id: int,
    *,
    now: datetime,
    version: int | None = None,
) -> Report:
    """Submit the questionnaire: every required answer there, every answer within its
    limits; the submitted answers are kept as a new :class:`ReportVersion`."""
    report = report_service._load_report(session, actor, report_id, with_membership=True)
    questionnaire = _require(report)
    report_service.check_submit_report(actor, report)
    answers = _answers_with_files(session, report)
    problems = qn.problems(questionnaire, answers)
    if problems:
        raise AnswersIncomplete(problems)
    membership = report.membership
    report.questionnaire = questionnaire.version
    report.submitted_at = now
    report.late = not on_or_before(now, report.due_on, timezone_of(membership))
    fire(
        session,
        REPORT,
        report,
        "submit",
        actor,
        now=now,
        version=version,
        comment="late" if report.late else "",
    )
    number = len(versions_of(session, report.id)) + 1
    files = {k: v for k, v in answers.items() if isinstance(v, list)}
    session.add(
        ReportVersion(
            report_id=report.id,
            number=number,
            questionnaire=questionnaire.version,
            answers={k: v for k, v in answers.items() if k not in files},
            files=files,
            submitted_at=now,
            submitted_by=actor.user_id,
            late=report.late,
            comments={},
        )
    )
    report_service._restore_if_caught_up(session, membership, now)
    publish(session, settings)
    return report


def review_answers(
    session: Session,
    settings: Settings,
    actor: Actor,
    report_id: int,
    trigger: str,
    *,
    now: datetime,
    comments: dict[str, str],
    comment: str = "",
    version: int | None = None,
) -> Report:
    """Accept or return a questionnaire report with comments per section (a return
    needs at least one comment: overall or on a section)."""
    report = report_service.get_report(session, actor, report_id)
    questionnaire = _require(report)
    keys = {s.key for s in questionnaire.sections}
    kept = {k: v.strip() for k, v in comments.items() if k in keys and v.strip()}
    overall = comment.strip()
    if not overall and kept:
        titles = {s.key: s.title("en") for s in questionnaire.sections}
        overall = "; ".join(f"{titles[k]}: {v}" for k, v in kept.items())
    report = report_service.review_report(
        session, settings, actor, report_id, trigger, now=now, comment=overall, version=version
    )
    latest = latest_version(session, report.id)
    if latest is not None:
        latest.comments = kept
        latest.outcome = "accepted" if trigger == "accept" else "returned"
        latest.decided_at = now
    flush(session, "report", report.id)
    return report


def versions_of(session: Session, report_id: int) -> list[ReportVersion]:
    return list(
        session.scalars(
            select(ReportVersion)
            .where(ReportVersion.report_id == report_id)
            .order_by(ReportVersion.number)
        )
    )


def latest_version(session: Session, report_id: int) -> ReportVersion | None:
    found = versions_of(session, report_id)
    return found[-1] if found else None


def returned_comments(session: Session, report: Report) -> dict[str, str]:
    """The comments per section of the version the Institute returned (shown beside
    their sections while the city revises)."""
    if report.state != R.RETURNED.value:
        return {}
    latest = latest_version(session, report.id)
    return dict(latest.comments) if latest is not None and latest.outcome == "returned" else {}


# Supporting files ---------------------------------------------------------------------

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .doc, .xls, .ppt
_MAGIC = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
    _OLE: "application/x-ole-storage",
}


def content_type(data: bytes) -> str | None:
    """The type of a supporting file by its first bytes; an office document in a ZIP
    (OOXML .docx/.xlsx/.pptx, OpenDocument) by its parts. None: not accepted."""
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return kind
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
                if "[Content_Types].xml" in names:
                    return "application/vnd.openxmlformats-officedocument"
                if "mimetype" in names:
                    kind = archive.read("mimetype").decode("ascii", "replace").strip()
                    if kind.startswith("application/vnd.oasis.opendocument"):
                        return kind
        except (zipfile.BadZipFile, OSError, KeyError):
            return None
    return None


def store_file(
    session: Session,
    settings: Settings,
    actor: Actor,
    report_id: int,
    *,
    question: str,
    filename: str,
    data: bytes,
    folder: Path,
    now: datetime,
) -> ReportFile:
    """Attach a supporting document to the report's file question."""
    report = report_service._load_report(session, actor, report_id)
    _check_writable(actor, report)
    questionnaire = _require(report)
    asked = questionnaire.question(question)
    if asked is None or asked.kind != "file":
        raise UnknownQuestion(question)
    if not data:
        raise uploads.UploadRefused("upload_empty")
    limit = settings.web.upload_max_bytes
    if len(data) > limit:
        raise uploads.UploadRefused("upload_too_large", limit_mb=uploads.megabytes(limit))
    kind = content_type(data)
    if kind is None:
        raise FileNotAccepted()
    city_id = report.membership.city_id
    stored = f"report-{report.id}-{secrets.token_hex(12)}"
    uploads._write(session, folder, stored, data)
    get(session, City, city_id, "city", lock=True)
    used = uploads._city_usage(session, city_id)
    if used + len(data) > settings.web.upload_city_quota_bytes:
        raise uploads.UploadQuotaExceeded(used, len(data), settings.web.upload_city_quota_bytes)
    report.questionnaire = questionnaire.version
    record = ReportFile(
        report_id=report.id,
        city_id=city_id,
        question=question,
        filename=(Path(filename).name or "document")[:200],
        stored_name=stored,
        content_type=kind,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_at=now,
        uploaded_by=actor.user_id,
    )
    session.add(record)
    flush(session, "report", report.id)
    audit(
        session,
        actor,
        subject_type="report",
        subject_id=report.id,
        action="attach_file",
        now=now,
        comment=record.filename,
    )
    return record


def remove_file(
    session: Session, actor: Actor, report_id: int, file_id: int, *, now: datetime
) -> None:
    """Take a file off the draft (kept on disk: a submitted version may name it)."""
    report = report_service._load_report(session, actor, report_id)
    _check_writable(actor, report)
    record = session.get(ReportFile, file_id)
    if record is None or record.report_id != report.id or record.removed_at is not None:
        raise NotFound("report file", file_id)
    record.removed_at = now
    audit(
        session,
        actor,
        subject_type="report",
        subject_id=report.id,
        action="remove_file",
        now=now,
        comment=record.filename,
    )


def file_path(
    session: Session, actor: Actor, report_id: int, file_id: int, folder: Path
) -> tuple[Path, ReportFile]:
    report_service.get_report(session, actor, report_id)
    record = session.get(ReportFile, file_id)
    if record is None or record.report_id != report_id:
        raise NotFound("report file", file_id)
    path = folder / record.stored_name
    if not path.is_file():
        raise NotFound("report file", file_id)
    return path, record


# Outputs of a cycle ---------------------------------------------------------------------


def cycle_reports(session: Session, actor: Actor, due_on: date) -> list[Report]:
    require_role(actor, Role.INSTITUTE, Role.ADMIN, doing="see a report cycle")
    return list(session.scalars(select(Report).where(Report.due_on == due_on).order_by(Report.id)))


def _shown(question: qn.Question, value: object, lang: str) -> str:
    if value is None:
        return ""
    if question.kind == "yesno" and isinstance(value, bool):
        return "yes" if value else "no"
    if question.kind == "choice":
        option = question.option(str(value))
        return option.title(lang) if option else str(value)
    if isinstance(value, list):
        return str(len(value))
    return str(value)


def cycle_csv(session: Session, actor: Actor, due_on: date, *, lang: str = "en") -> str:
    """A CSV of a whole cycle: one row per report, one column per question (the answers
    submitted last; a report not submitted has its state and no answers)."""
    reports = cycle_reports(session, actor, due_on)
    questionnaire = qn.for_cycle(due_on)
    questions = [q for _, q in questionnaire.questions] if questionnaire else []
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "report",
            "city",
            "country",
            "state",
            "submitted",
            "late",
            "questionnaire",
            *[q.key for q in questions],
        ]
    )
    for report in reports:
        latest = latest_version(session, report.id)
        answers: dict[str, Any] = {}
        if latest is not None:
            answers = {**latest.answers, **latest.files}
        city = report.membership.city
        writer.writerow(
            [
                report.id,
                city.name,
                city.country_code,
                report.state,
                report.submitted_at.date().isoformat() if report.submitted_at else "",
                "yes" if report.late else "no",
                latest.questionnaire if latest else (report.questionnaire or ""),
                *[_shown(q, answers.get(q.key), lang) for q in questions],
            ]
        )
    return out.getvalue()


def cycles(session: Session) -> list[date]:
    return list(session.scalars(select(Report.due_on).distinct().order_by(Report.due_on)))


def cycle_compliance(session: Session, actor: Actor, today: date) -> list[Any]:
    """Reporting compliance per cycle: on time, late, missing (and not yet due)."""
    from workflow.statistics import compliance

    require_role(actor, Role.INSTITUTE, Role.ADMIN, doing="see reporting compliance")
    return list(compliance(session, today))
