"""The JSON API's member and report routes under /api/v1 (the shared parts: ``web.api``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from web import actions
from web import schemas as s
from web.api import PROBLEMS, api_user
from web.portal import portal_of
from web.routing import RetryingRoute
from web.schemas import Id
from web.viewer import Viewer, actor_of
from workflow import member_views
from workflow.actors import require_role
from workflow.services import reports as report_service
from workflow.states import Role

router = APIRouter(prefix="/api/v1", responses=PROBLEMS, route_class=RetryingRoute)


@router.get("/members", response_model=list[s.MemberOut], tags=["members"])
def list_members(
    request: Request,
    who: Viewer = Depends(api_user),
    state: str | None = None,
    country: str | None = Query(None, max_length=2, description="A country code, e.g. LV."),
    q: str | None = Query(None, max_length=100, description="Part of the city's name."),
    year: int | None = Query(None, ge=1900, le=2200, description="The admission year."),
    sort: str | None = Query(
        None,
        max_length=20,
        description=f"One of {', '.join(member_views.MEMBER_SORTS)}; -KEY for descending.",
    ),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> list[s.MemberOut]:
    """Members with their reporting status, overdue first (or by ``sort``), the portal's
    filter (``workflow.member_views.MemberFilter``); page with limit and offset."""
    portal = portal_of(request)
    where = member_views.MemberFilter(state=state, country=country, search=q, year=year, sort=sort)
    with portal.reading() as session:
        rows = member_views.member_lines(
            session,
            portal.settings,
            actor_of(who),
            portal.now(),
            where,
            limit=limit,
            offset=offset,
        )
        return [
            s.MemberOut(
                id=r.id,
                city_id=r.city_id,
                city=r.city,
                country_code=r.country_code,
                state=r.state,
                admitted_on=r.admitted_on,
                overdue_reports=r.overdue,
                next_due=r.next_due,
            )
            for r in rows
        ]


@router.get("/members/{membership_id}/reports", response_model=list[s.ReportOut], tags=["members"])
def member_reports(
    request: Request, membership_id: Id, who: Viewer = Depends(api_user)
) -> list[s.ReportOut]:
    actor = actor_of(who)
    with portal_of(request).unit() as session:
        reports = report_service.reports_of(session, actor, membership_id)
        return [s.ReportOut.of(r, member_views.report_actions(r, actor)) for r in reports]


@router.get("/reports", response_model=list[s.ReportOut], tags=["reports"])
def reports_to_review(
    request: Request,
    who: Viewer = Depends(api_user),
    state: str = Query("submitted", description="A report state; empty: every state."),
    country: str | None = Query(None, max_length=2, description="A country code, e.g. LV."),
    q: str | None = Query(None, max_length=100, description="Part of the city's name."),
    year: int | None = Query(None, ge=1900, le=2200, description="The year of the due date."),
    sort: str | None = Query(
        None,
        max_length=20,
        description=f"One of {', '.join(member_views.REPORT_SORTS)}; -KEY for descending.",
    ),
    limit: int = Query(1000, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> list[s.ReportOut]:
    """The Institute's reports: those to review (submitted, the longest waiting first) by
    default; the portal's filter (``workflow.member_views.ReportFilter``)."""
    actor = actor_of(who)
    where = member_views.ReportFilter(
        state=state or None, country=country, search=q, year=year, sort=sort
    )
    with portal_of(request).unit() as session:
        require_role(actor, Role.INSTITUTE, Role.ADMIN, doing="review progress reports")
        found = member_views.list_reports(session, actor, where, limit=limit, offset=offset)
        return [s.ReportOut.of(r, member_views.report_actions(r, actor)) for r in found]


@router.get("/reports/{report_id}", response_model=s.ReportOut, tags=["reports"])
def get_report(request: Request, report_id: Id, who: Viewer = Depends(api_user)) -> s.ReportOut:
    actor = actor_of(who)
    with portal_of(request).unit() as session:
        report = report_service.get_report(session, actor, report_id)
        return s.ReportOut.of(report, member_views.report_actions(report, actor))


@router.post("/reports/{report_id}/submit", response_model=s.ReportOut, tags=["reports"])
def submit_report(
    request: Request, report_id: Id, body: s.ReportSubmitIn, who: Viewer = Depends(api_user)
) -> s.ReportOut:
    return _report_action(
        request, who, report_id, "submit", summary=body.summary, version=body.version
    )


@router.post("/reports/{report_id}/review", response_model=s.ReportOut, tags=["reports"])
def review_report(
    request: Request, report_id: Id, body: s.ReportReviewIn, who: Viewer = Depends(api_user)
) -> s.ReportOut:
    return _report_action(
        request, who, report_id, body.trigger, comment=body.comment, version=body.version
    )


def _report_action(
    request: Request, who: Viewer, report_id: Id, trigger: str, **values: Any
) -> s.ReportOut:
    portal = portal_of(request)
    actor = actor_of(who)
    with portal.unit() as session:
        report = actions.act_on_report(
            session, portal.settings, actor, report_id, trigger, now=portal.now(), **values
        )
        return s.ReportOut.of(report, member_views.report_actions(report, actor))
