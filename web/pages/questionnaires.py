"""A progress report answered as a questionnaire: the city's form (a draft saved at any
time, submitted when complete), its supporting files, the Institute's review with a
comment per section, each submitted version, a printable view, and per cycle the CSV
and reporting compliance (``workflow.services.questionnaire_reports``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData, UploadFile
from starlette.responses import FileResponse, RedirectResponse, Response

from web import flash
from web.portal import portal_of
from web.routing import RetryingRoute
from web.schemas import Id
from web.templating import render, said
from web.uploads import read_upload
from web.viewer import Viewer, actor_of, checked_form, signed_in, viewer
from workflow import questionnaires as qn
from workflow.errors import InvalidInput, WorkflowError
from workflow.services import questionnaire_reports as qr
from workflow.services import reports as report_service
from workflow.states import Role

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)


def _page(
    request: Request, who: Viewer, report_id: int, template: str, number: int = 0
) -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    with portal.unit() as session:
        report = report_service.get_report(session, actor, report_id)
        questionnaire = qr.questionnaire_of(report)
        if questionnaire is None:
            raise qr.NoQuestionnaire(report_id)
        versions = qr.versions_of(session, report_id)
        shown = next((v for v in versions if v.number == number), None)
        if number and shown is None:
            raise InvalidInput(f"Report {report_id} has no version {number}.", "not_valid")
        writable = actor.role == Role.CITY and report.state in qr.WRITABLE
        kept = flash.kept(request)
        if shown is not None:
            answers: dict[str, Any] = dict(shown.answers)
        else:
            answers = {**dict(report.answers or {}), **kept}
        files = qr.files_of(session, report_id)
        by_id = {f.id: f for f in qr.files_of(session, report_id, current=False)}
        problems = {
            p.question.key: p.why
            for p in qn.problems(questionnaire, qr._answers_with_files(session, report))
        }
        reviewing = (
            actor.role in (Role.INSTITUTE, Role.ADMIN)
            and report.state == "submitted"
            and not number
        )
        context = {
            "report": report,
            "q": questionnaire,
            "answers": answers,
            "files": files,
            "version_files": shown.files if shown is not None else None,
            "by_id": by_id,
            "problems": problems if writable else {},
            "writable": writable and not number,
            "reviewing": reviewing and actor.role == Role.INSTITUTE,
            "comments": (
                shown.comments if shown is not None else qr.returned_comments(session, report)
            ),
            "versions": versions,
            "shown": shown,
            "lang": viewer(request).lang,
            "done": request.query_params.get("done", ""),
            "word_count": qn.word_count,
        }
        return render(request, template, context)


@router.get("/reports/{report_id}/questionnaire")
def questionnaire_page(
    request: Request, report_id: Id, who: Viewer = Depends(signed_in), version: int = 0
) -> Response:
    return _page(request, who, report_id, "reports/questionnaire.html", version)


@router.get("/reports/{report_id}/print")
def printable(
    request: Request, report_id: Id, who: Viewer = Depends(signed_in), version: int = 0
) -> Response:
    return _page(request, who, report_id, "reports/print.html", version)


def _answers_of(form: FormData, questionnaire: qn.Questionnaire) -> dict[str, object]:
    given: dict[str, object] = {}
    for _, q in questionnaire.questions:
        value = form.get(f"q_{q.key}")
        if isinstance(value, str):
            given[q.key] = value
    return given


@router.post("/reports/{report_id}/questionnaire")
def save_questionnaire(
    request: Request,
    report_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    """Save the draft; with ``submit`` also submit it (the draft stays saved when the
    submission is refused, and the refusal names each missing question)."""
    portal = portal_of(request)
    actor = actor_of(who)
    back = f"/reports/{report_id}/questionnaire"
    try:
        with portal.unit() as session:
            report = report_service.get_report(session, actor, report_id)
            questionnaire = qr.questionnaire_of(report)
            if questionnaire is None:
                raise qr.NoQuestionnaire(report_id)
            qr.save_draft(
                session, actor, report_id, _answers_of(form, questionnaire), now=portal.now()
            )
        if form.get("submit") == "yes":
            with portal.unit() as session:
                qr.submit_answers(session, portal.settings, actor, report_id, now=portal.now())
            return RedirectResponse(f"{back}?done=report_submit", status_code=303)
    except WorkflowError as exc:
        return flash.back(request, back, error=said(request, exc))
    return RedirectResponse(f"{back}?done=quest_saved", status_code=303)


@router.post("/reports/{report_id}/files")
def attach_file(
    request: Request,
    report_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    back = f"/reports/{report_id}/questionnaire"
    upload = form.get("file")
    try:
        data, filename = b"", "document"
        if isinstance(upload, UploadFile):
            data, filename = read_upload(upload, portal.settings)
        with portal.unit() as session:
            qr.store_file(
                session,
                portal.settings,
                actor_of(who),
                report_id,
                question=str(form.get("question") or ""),
                filename=filename,
                data=data,
                folder=portal.uploads,
                now=portal.now(),
            )
    except WorkflowError as exc:
        return flash.back(request, back, error=said(request, exc))
    return RedirectResponse(f"{back}?done=quest_attached", status_code=303)


@router.post("/reports/{report_id}/files/{file_id}/remove")
def remove_file(
    request: Request,
    report_id: Id,
    file_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    back = f"/reports/{report_id}/questionnaire"
    try:
        with portal.unit() as session:
            qr.remove_file(session, actor_of(who), report_id, file_id, now=portal.now())
    except WorkflowError as exc:
        return flash.back(request, back, error=said(request, exc))
    return RedirectResponse(f"{back}?done=quest_removed", status_code=303)


@router.get("/reports/{report_id}/files/{file_id}")
def download_file(
    request: Request, report_id: Id, file_id: Id, who: Viewer = Depends(signed_in)
) -> Response:
    portal = portal_of(request)
    with portal.unit() as session:
        path, record = qr.file_path(session, actor_of(who), report_id, file_id, portal.uploads)
        media, name = record.content_type, record.filename
    if media.startswith("application/x-") or media.endswith("officedocument"):
        media = "application/octet-stream"
    return FileResponse(path, media_type=media, filename=name)


@router.post("/reports/{report_id}/questionnaire/review")
def review_questionnaire(
    request: Request,
    report_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    back = f"/reports/{report_id}/questionnaire"
    trigger = str(form.get("trigger") or "")
    comments = {
        k.removeprefix("c_"): v
        for k, v in form.items()
        if k.startswith("c_") and isinstance(v, str)
    }
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        with portal.unit() as session:
            qr.review_answers(
                session,
                portal.settings,
                actor_of(who),
                report_id,
                trigger,
                now=portal.now(),
                comments=comments,
                comment=str(form.get("comment") or ""),
            )
    except WorkflowError as exc:
        return flash.back(request, back, error=said(request, exc), values=values)
    return RedirectResponse(f"{back}?done=report_{trigger}", status_code=303)


@router.get("/report-cycles")
def cycles_page(request: Request, who: Viewer = Depends(signed_in)) -> Response:
    """Reporting compliance per cycle, each with the CSV of its reports."""
    portal = portal_of(request)
    with portal.unit() as session:
        rows = qr.cycle_compliance(session, actor_of(who), portal.now().date())
        return render(request, "reports/cycles.html", {"rows": rows})


@router.get("/report-cycles/{due_on}.csv")
def cycle_csv(request: Request, due_on: date, who: Viewer = Depends(signed_in)) -> Response:
    portal = portal_of(request)
    with portal.unit() as session:
        text = qr.cycle_csv(session, actor_of(who), due_on, lang=viewer(request).lang)
    return Response(
        "\ufeff" + text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="reports-{due_on}.csv"'},
    )
