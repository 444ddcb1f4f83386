"""Members with their reporting status, one member's reports, one report and its actions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web import actions
from web.forms import form_fields, from_form
from web.portal import portal_of
from web.routing import RetryingRoute
from web.schemas import Id, ReportReviewIn, ReportSubmitIn
from web.templating import render, said
from web.viewer import Viewer, actor_of, checked_form, signed_in
from workflow import member_views
from workflow.errors import WorkflowError
from workflow.services import memberships
from workflow.services import reports as report_service

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)


@router.get("/members")
def member_list(request: Request, who: Viewer = Depends(signed_in), page: int = 1) -> Response:
    portal = portal_of(request)
    with portal.reading() as session:
        pager, rows = member_views.member_page(
            session, portal.settings, actor_of(who), portal.now(), page
        )
    # Rendered after the transaction: the rows are plain values.
    return render(request, "members/list.html", {"rows": rows, "pager": pager})


@router.get("/members/{membership_id}")
def member_page(request: Request, membership_id: Id, who: Viewer = Depends(signed_in)) -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    with portal.unit() as session:
        row = member_views.member_row(session, portal.settings, actor, membership_id, portal.now())
        context = {
            "row": row,
            "reports": [(r, member_views.report_actions(r, actor)) for r in row.reports],
            "due_dates": memberships.due_dates(portal.settings, row.membership),
            "history": memberships.membership_history(session, actor, membership_id),
        }
        return render(request, "members/detail.html", context)


@router.get("/reports")
def report_queue(request: Request, who: Viewer = Depends(signed_in)) -> Response:
    portal = portal_of(request)
    with portal.unit() as session:
        reports = member_views.reports_to_review(session, actor_of(who))
        return render(request, "reports/list.html", {"reports": reports})


def _report_page(
    request: Request,
    who: Viewer,
    report_id: Id,
    *,
    error: str | None = None,
    status: int = 200,
    summary: str | None = None,
    comment: str = "",
    done: str = "",
) -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    with portal.unit() as session:
        report = report_service.get_report(session, actor, report_id)
        context = {
            "report": report,
            "actions": member_views.report_actions(report, actor),
            "summary": report.summary if summary is None else summary,
            "comment": comment,
            "error": error,
            "done": done,
        }
        return render(request, "reports/detail.html", context, status=status)


@router.get("/reports/{report_id}")
def report_page(
    request: Request, report_id: Id, who: Viewer = Depends(signed_in), done: str = ""
) -> Response:
    return _report_page(request, who, report_id, done=done)


@router.post("/reports/{report_id}/act")
def report_action(
    request: Request,
    report_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    trigger = str(form.get("trigger") or "")
    summary = str(form.get("summary") or "")
    comment = str(form.get("comment") or "")
    try:
        # The same models, so the same limits, as the API's submit and review.
        if trigger == "submit":
            sent = from_form(ReportSubmitIn, form_fields(ReportSubmitIn, form))
            summary, version = sent.summary, sent.version
        else:
            review = from_form(ReportReviewIn, form_fields(ReportReviewIn, form))
            comment, version = review.comment, review.version
        with portal.unit() as session:
            actions.act_on_report(
                session,
                portal.settings,
                actor_of(who),
                report_id,
                trigger,
                now=portal.now(),
                summary=summary,
                comment=comment,
                version=version,
            )
    except WorkflowError as exc:
        return _report_page(
            request,
            who,
            report_id,
            error=said(request, exc),
            status=exc.status,
            summary=summary,
            comment=comment,
        )
    return RedirectResponse(f"/reports/{report_id}?done=report_{trigger}", status_code=303)
