"""Members with their reporting status, one member's reports, one report and its actions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web import actions, flash, lists, queries
from web.actions import NotConfirmed
from web.forms import form_fields, from_form
from web.portal import portal_of
from web.routing import RetryingRoute, in_loop
from web.schemas import Id, ReportReviewIn, ReportSubmitIn
from web.templating import render, said
from web.viewer import Viewer, actor_of, checked_form, signed_in
from workflow import member_views
from workflow.errors import WorkflowError
from workflow.services import memberships
from workflow.services.questionnaire_reports import questionnaire_of

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)


@router.get("/members")
@in_loop
def member_list(request: Request, who: Viewer = Depends(signed_in)) -> Response:
    """Search, filters, sort and pages from the query string (``web.lists``)."""
    return lists.members(request, who)


@router.get("/members.csv")
def member_csv(request: Request, who: Viewer = Depends(signed_in)) -> Response:
    return lists.members(request, who, as_csv=True)


@router.get("/members/{membership_id}")
@in_loop
def member_page(request: Request, membership_id: Id, who: Viewer = Depends(signed_in)) -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    with portal.reading() as session:
        row = member_views.member_row(session, portal.settings, actor, membership_id, portal.now())
        context = {
            "row": row,
            "reports": [(r, member_views.report_actions(r, actor)) for r in row.reports],
            "due_dates": member_views.upcoming_due_dates(
                portal.settings, row.membership, portal.now()
            ),
            "history": memberships.membership_history(session, actor, membership_id),
            "note": queries.system_note,
        }
        return render(request, "members/detail.html", context)


@router.get("/reports")
@in_loop
def report_queue(request: Request, who: Viewer = Depends(signed_in)) -> Response:
    """Reports to review by default; search, filters, sort and pages (``web.lists``)."""
    return lists.reports(request, who)


@router.get("/reports.csv")
def report_csv(request: Request, who: Viewer = Depends(signed_in)) -> Response:
    return lists.reports(request, who, as_csv=True)


@router.get("/reports/{report_id}")
@in_loop
def report_page(
    request: Request, report_id: Id, who: Viewer = Depends(signed_in), done: str = ""
) -> Response:
    """One report: the Institute's comment first when it returned it, then the content
    and the actions, each offered only when it will succeed (or shown disabled, with the
    reason). After a refused action, the input comes back (``flash.kept``)."""
    portal = portal_of(request)
    actor = actor_of(who)
    kept = flash.kept(request)
    with portal.reading() as session:
        view = queries.report_view(session, actor, report_id)
        report = view.report
        context = {
            "report": report,
            "view": view,
            "offers": [
                (o, None if o.refused is None else said(request, o.refused)) for o in view.offers
            ],
            "submit_offered": any(o.trigger == "submit" for o in view.offers),
            "summary": report.summary,
            "questionnaire": questionnaire_of(report),
            "kept": kept,
            "confirmed": actions.CONFIRMED["report"],
            "note": queries.system_note,
            "done": done,
        }
        return render(request, "reports/detail.html", context)


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
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "confirm"}
    try:
        if trigger in actions.CONFIRMED["report"] and form.get("confirm") != "yes":
            raise NotConfirmed()
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
        return flash.back(request, f"/reports/{report_id}", error=said(request, exc), values=values)
    return RedirectResponse(f"/reports/{report_id}?done=report_{trigger}", status_code=303)
