"""The start page of each role, and the workflow diagrams.

A city sees the current or next call with its window and timezone, what waits for it
(returned applications with the reviewer's comment, a draft near its deadline, reports
open, overdue or returned), its next report due date with past and future dates apart,
and the latest messages sent to it. A Commission and the Institute see what waits for
them as counts, each a link to the filtered list.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from web.pages import messages
from web.portal import portal_of
from web.routing import RetryingRoute, in_loop
from web.templating import render
from web.viewer import Viewer, actor_of, signed_in
from workflow import member_views, views
from workflow.services import applications as apps
from workflow.services import calls, jury
from workflow.states import ApplicationState as A
from workflow.states import MembershipState as M
from workflow.states import ReportState as R
from workflow.states import Role

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)

#: What waits for each role, as (message id, count key, link): the tiles of the home page.
COMMISSION_TILES = (
    ("home.tile.submitted", ("application", A.SUBMITTED), "/applications?state=submitted"),
    ("home.tile.returned", ("application", A.RETURNED), "/applications?state=returned"),
    ("home.tile.forwarded", ("application", A.FORWARDED), "/applications?state=forwarded"),
    ("home.tile.overdue", ("membership", M.OVERDUE), "/members?state=overdue"),
    ("home.tile.inactive", ("membership", M.INACTIVE), "/members?state=inactive"),
)
INSTITUTE_TILES = (
    ("home.tile.forwarded", ("application", A.FORWARDED), "/applications?state=forwarded"),
    ("home.tile.under_review", ("application", A.UNDER_REVIEW), "/applications?state=under_review"),
    ("home.tile.reports", ("report", R.SUBMITTED), "/reports?state=submitted"),
    ("home.tile.overdue", ("membership", M.OVERDUE), "/members?state=overdue"),
    ("home.tile.inactive", ("membership", M.INACTIVE), "/members?state=inactive"),
)


def _tiles(
    counts: dict[str, dict[str, int]], tiles: tuple[tuple[str, tuple[str, str], str], ...]
) -> list[dict[str, Any]]:
    return [
        {"label": label, "count": counts[kind].get(state, 0), "link": link}
        for label, (kind, state), link in tiles
    ]


@router.get("/")
@in_loop
def home(request: Request, who: Viewer = Depends(signed_in), done: str = "") -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    now = portal.now()
    context: dict[str, Any] = {"done": done}
    portal.calls_ready()
    with portal.reading() as session:
        if actor.role in (Role.COMMISSION, Role.INSTITUTE):
            counts = {
                "application": member_views.application_counts(session, actor),
                "membership": member_views.member_counts(session, actor),
                "report": member_views.report_counts(session, actor),
            }
        if actor.role is Role.CITY:
            rows = views.queue_lines(session, actor)
            membership = member_views.city_membership(session, portal.settings, actor, now)
            live = [r for r in rows if r.state in apps.LIVE]
            call = calls.current_or_next(session, portal.settings, now)
            context.update(
                rows=rows,
                members=[membership[0]] if membership else [],
                due=membership[1] if membership else None,
                can_start=not live and not membership,
                call=call,
                call_open=call is not None and calls.window(call).contains(now),
                attention=member_views.city_attention(session, portal.settings, actor, now),
                letters=messages.latest(session, portal.settings, who),
            )
            template = "home/city.html"
        elif actor.role is Role.COMMISSION:
            waiting = views.ApplicationFilter(state=A.SUBMITTED.value)
            direct = views.ApplicationFilter(states=(A.FORWARDED.value, A.UNDER_REVIEW.value))
            context.update(
                tiles=_tiles(counts, COMMISSION_TILES),
                rows=views.queue_lines(session, actor, waiting, limit=10),
                direct=[
                    r
                    for r in views.queue_lines(session, actor, direct, limit=50)
                    if r.route == "direct"
                ][:10],
            )
            template = "home/commission.html"
        elif actor.role is Role.INSTITUTE:
            forwarded = views.ApplicationFilter(states=(A.FORWARDED.value, A.UNDER_REVIEW.value))
            to_review = member_views.ReportFilter(state=R.SUBMITTED.value)
            context.update(
                tiles=_tiles(counts, INSTITUTE_TILES),
                rows=views.queue_lines(session, actor, forwarded, limit=10),
                reports=member_views.report_lines(session, actor, to_review, limit=10),
                members=member_views.member_lines(session, portal.settings, actor, now, limit=10),
            )
            template = "home/institute.html"
        elif actor.role is Role.JUROR:
            # The juror's work: their assignments still to score (web/pages/jury.py).
            context.update(waiting=jury.assignments_of(session, actor, states=("assigned",)))
            template = "home/juror.html"
        else:
            context.update(rows=views.queue_lines(session, actor, limit=20))
            template = "home/admin.html"
        return render(request, template, context)


@router.get("/workflow")
def workflow_page(request: Request, who: Viewer = Depends(signed_in)) -> Response:
    return render(request, "workflow.html")
