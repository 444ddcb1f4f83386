"""The start page of each role, and the workflow diagrams."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from web.portal import portal_of
from web.routing import RetryingRoute
from web.templating import render
from web.viewer import Viewer, actor_of, signed_in
from workflow import member_views, views
from workflow.services import applications as apps
from workflow.states import ApplicationState as A
from workflow.states import Role

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)


@router.get("/")
def home(request: Request, who: Viewer = Depends(signed_in), done: str = "") -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    now = portal.now()
    context: dict[str, Any] = {"done": done}
    with portal.unit() as session:
        if actor.role is Role.CITY:
            rows = views.queue_lines(session, actor)
            members = member_views.member_lines(session, portal.settings, actor, now)
            live = [r for r in rows if r.state in apps.LIVE]
            context.update(rows=rows, members=members, can_start=not live and not members)
            template = "home/city.html"
        elif actor.role is Role.COMMISSION:
            rows = views.queue_lines(session, actor)
            context.update(
                waiting=[r for r in rows if r.state == A.SUBMITTED],
                direct=[r for r in rows if r.route == "direct"],
                others=[r for r in rows if r.state != A.SUBMITTED and r.route != "direct"],
            )
            template = "home/commission.html"
        elif actor.role is Role.INSTITUTE:
            context.update(
                rows=views.queue_lines(
                    session,
                    actor,
                    views.ApplicationFilter(states=(A.FORWARDED.value, A.UNDER_REVIEW.value)),
                ),
                members=member_views.member_lines(session, portal.settings, actor, now, limit=10),
                reports=member_views.reports_to_review(session, actor),
            )
            template = "home/institute.html"
        else:
            context.update(rows=views.queue_lines(session, actor, limit=20))
            template = "home/admin.html"
        return render(request, template, context)


@router.get("/workflow")
def workflow_page(request: Request, who: Viewer = Depends(signed_in)) -> Response:
    return render(request, "workflow.html")
