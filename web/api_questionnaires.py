"""The JSON API of questionnaire reports under /api/v1: a report's questionnaire and
answers, the draft, submission, the Institute's review with comments per section, the
submitted versions, and per cycle the CSV and reporting compliance
(``workflow.services.questionnaire_reports``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from web.api import PROBLEMS, api_user
from web.portal import portal_of
from web.routing import RetryingRoute
from web.schemas import Id
from web.viewer import Viewer, actor_of
from workflow import questionnaires as qn
from workflow.models import Report, ReportVersion
from workflow.services import questionnaire_reports as qr
from workflow.services import reports as report_service

router = APIRouter(prefix="/api/v1", responses=PROBLEMS, route_class=RetryingRoute)


class QuestionOut(BaseModel):
    key: str
    kind: str
    required: bool
    words: int
    titles: dict[str, str]
    options: dict[str, dict[str, str]] = Field(description="choice: option key -> titles")


class SectionOut(BaseModel):
    key: str
    titles: dict[str, str]
    questions: list[QuestionOut]


class QuestionnaireOut(BaseModel):
    version: str
    applies_from: date
    titles: dict[str, str]
    sections: list[SectionOut]

    @classmethod
    def of(cls, q: qn.Questionnaire) -> QuestionnaireOut:
        return cls(
            version=q.version,
            applies_from=q.applies_from,
            titles=q.titles,
            sections=[
                SectionOut(
                    key=s.key,
                    titles=s.titles,
                    questions=[
                        QuestionOut(
                            key=x.key,
                            kind=x.kind,
                            required=x.required,
                            words=x.words,
                            titles=x.titles,
                            options={o.key: o.titles for o in x.options},
                        )
                        for x in s.questions
                    ],
                )
                for s in q.sections
            ],
        )


class ProblemOut(BaseModel):
    section: str
    question: str
    why: str = Field(description="missing, too_long, not_number or not_option")


class AnswersOut(BaseModel):
    id: int
    state: str
    version: int
    questionnaire: QuestionnaireOut
    answers: dict[str, Any]
    files: list[dict[str, Any]]
    problems: list[ProblemOut]
    comments: dict[str, str] = Field(description="The returned version's comment per section.")


class AnswersIn(BaseModel):
    answers: dict[str, str | int | float | bool | None] = Field(
        description="question key -> answer; null or empty removes the answer"
    )


class ReviewIn(BaseModel):
    trigger: Literal["accept", "return_for_revision"]
    comments: dict[str, str] = Field(default_factory=dict, description="section key -> comment")
    comment: str = Field("", max_length=5000)
    version: int | None = None


class VersionOut(BaseModel):
    number: int
    questionnaire: str
    answers: dict[str, Any]
    files: dict[str, Any]
    submitted_at: datetime
    late: bool
    comments: dict[str, Any]
    outcome: str
    decided_at: datetime | None

    @classmethod
    def of(cls, v: ReportVersion) -> VersionOut:
        return cls(
            number=v.number,
            questionnaire=v.questionnaire,
            answers=v.answers,
            files=v.files,
            submitted_at=v.submitted_at,
            late=v.late,
            comments=v.comments,
            outcome=v.outcome,
            decided_at=v.decided_at,
        )


class CycleOut(BaseModel):
    due_on: date
    on_time: int
    late: int
    missing: int
    not_due: int


def _answers(session: Any, report: Report) -> AnswersOut:
    questionnaire = qr.questionnaire_of(report)
    if questionnaire is None:
        raise qr.NoQuestionnaire(report.id)
    return AnswersOut(
        id=report.id,
        state=report.state,
        version=report.version,
        questionnaire=QuestionnaireOut.of(questionnaire),
        answers=dict(report.answers or {}),
        files=[
            {
                "id": f.id,
                "question": f.question,
                "filename": f.filename,
                "content_type": f.content_type,
                "size": f.size,
            }
            for f in qr.files_of(session, report.id)
        ],
        problems=[
            ProblemOut(section=p.section.key, question=p.question.key, why=p.why)
            for p in qn.problems(questionnaire, qr._answers_with_files(session, report))
        ],
        comments=qr.returned_comments(session, report),
    )


@router.get("/reports/{report_id}/answers", response_model=AnswersOut, tags=["reports"])
def get_answers(request: Request, report_id: Id, who: Viewer = Depends(api_user)) -> AnswersOut:
    """The report's questionnaire, its answers (the draft), what still keeps it from
    submission, and the comments of a returned report."""
    portal = portal_of(request)
    with portal.reading() as session:
        return _answers(session, report_service.get_report(session, actor_of(who), report_id))


@router.put("/reports/{report_id}/answers", response_model=AnswersOut, tags=["reports"])
def save_answers(
    request: Request, report_id: Id, body: AnswersIn, who: Viewer = Depends(api_user)
) -> AnswersOut:
    """Save answers in the draft (never refused for a limit)."""
    portal = portal_of(request)
    given = {k: ("" if v is None else v) for k, v in body.answers.items()}
    with portal.unit() as session:
        report = qr.save_draft(session, actor_of(who), report_id, given, now=portal.now())
        return _answers(session, report)


@router.post("/reports/{report_id}/answers/submit", response_model=AnswersOut, tags=["reports"])
def submit_answers(request: Request, report_id: Id, who: Viewer = Depends(api_user)) -> AnswersOut:
    """Submit the questionnaire (422 ``invalid_input.answers_incomplete`` names each
    question still missing or out of its limits)."""
    portal = portal_of(request)
    with portal.unit() as session:
        report = qr.submit_answers(
            session, portal.settings, actor_of(who), report_id, now=portal.now()
        )
        return _answers(session, report)


@router.post(
    "/reports/{report_id}/questionnaire/review", response_model=AnswersOut, tags=["reports"]
)
def review(
    request: Request, report_id: Id, body: ReviewIn, who: Viewer = Depends(api_user)
) -> AnswersOut:
    """The Institute accepts or returns the report, with a comment per section."""
    portal = portal_of(request)
    with portal.unit() as session:
        report = qr.review_answers(
            session,
            portal.settings,
            actor_of(who),
            report_id,
            body.trigger,
            now=portal.now(),
            comments=body.comments,
            comment=body.comment,
            version=body.version,
        )
        return _answers(session, report)


@router.get("/reports/{report_id}/versions", response_model=list[VersionOut], tags=["reports"])
def versions(request: Request, report_id: Id, who: Viewer = Depends(api_user)) -> list[VersionOut]:
    """Every submitted version, oldest first, with the Institute's comments and outcome."""
    portal = portal_of(request)
    with portal.reading() as session:
        report_service.get_report(session, actor_of(who), report_id)
        return [VersionOut.of(v) for v in qr.versions_of(session, report_id)]


@router.get("/report-cycles", response_model=list[CycleOut], tags=["reports"])
def cycles(request: Request, who: Viewer = Depends(api_user)) -> list[CycleOut]:
    """Reporting compliance per cycle (due date): on time, late, missing, not yet due."""
    portal = portal_of(request)
    with portal.reading() as session:
        rows = qr.cycle_compliance(session, actor_of(who), portal.now().date())
        return [
            CycleOut(
                due_on=c.due_on,
                on_time=c.on_time,
                late=c.late,
                missing=c.missing,
                not_due=c.not_due,
            )
            for c in rows
        ]


@router.get("/report-cycles/{due_on}.csv", tags=["reports"], response_class=Response)
def cycle_csv(request: Request, due_on: date, who: Viewer = Depends(api_user)) -> Response:
    """One row per report of the cycle, one column per question."""
    portal = portal_of(request)
    with portal.reading() as session:
        text = qr.cycle_csv(session, actor_of(who), due_on)
    return Response(text, media_type="text/csv; charset=utf-8")
