"""The JSON API's application routes under /api/v1 (the shared parts: ``web.api``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile

from web import actions, queries
from web import schemas as s
from web.api import PROBLEMS, api_user
from web.portal import portal_of
from web.routing import RetryingRoute
from web.schemas import Id
from web.uploads import read_upload
from web.viewer import Viewer, actor_of
from workflow import views
from workflow.errors import NotFound
from workflow.machines import APPLICATION
from workflow.services import applications as apps
from workflow.uploads import store_signed_form

router = APIRouter(prefix="/api/v1", responses=PROBLEMS, route_class=RetryingRoute)


@router.get("/applications", response_model=list[s.ApplicationOut], tags=["applications"])
def list_applications(
    request: Request,
    who: Viewer = Depends(api_user),
    state: str | None = None,
    call: str | None = None,
    country: str | None = Query(None, max_length=2, description="A country code, e.g. LV."),
    q: str | None = Query(None, max_length=100, description="Part of the city's name."),
    year: int | None = Query(None, ge=1900, le=2200, description="The year the call opens."),
    sort: str | None = Query(
        None,
        max_length=20,
        description=f"One of {', '.join(views.APPLICATION_SORTS)}; -KEY for descending.",
    ),
    order: Literal["newest", "waiting"] = Query(
        "newest", description="newest first, or what waits for you first (the portal's order)"
    ),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> list[s.ApplicationOut]:
    """Applications the caller may see, newest first (or ``order=waiting``: those waiting
    for the caller first, soonest Commission deadline first; ``sort`` replaces the order);
    the portal's filter (``workflow.views.ApplicationFilter``); page with limit and offset."""
    actor = actor_of(who)
    where = views.ApplicationFilter(
        state=state, call=call, country=country, search=q, year=year, sort=sort
    )
    with portal_of(request).unit() as session:
        found = views.list_applications(
            session, actor, where, order=order, limit=limit, offset=offset
        )
        return [s.ApplicationOut.of(a, APPLICATION.allowed(a.state, actor.role)) for a in found]


def _detail(request: Request, who: Viewer, app_id: Id) -> s.ApplicationDetail:
    portal = portal_of(request)
    with portal.unit() as session:
        view = queries.application_view(
            session, portal.settings, actor_of(who), app_id, portal.now()
        )
        base = s.ApplicationOut.of(view.app, view.actions)
        return s.ApplicationDetail(
            **base.model_dump(),
            next_steps=view.next_steps,
            problems=[p.message for p in view.problems],
            quota=view.quota,
            quota_left=view.quota_left,
        )


@router.post(
    "/applications", response_model=s.ApplicationDetail, status_code=201, tags=["applications"]
)
def create_application(
    request: Request, body: s.ApplicationIn, who: Viewer = Depends(api_user)
) -> s.ApplicationDetail:
    portal = portal_of(request)
    with portal.unit() as session:
        app = actions.save_application(
            session,
            portal.settings,
            actor_of(who),
            body.model_dump(exclude_none=True, exclude={"version"}),
            now=portal.now(),
        )
        app_id = app.id
    return _detail(request, who, app_id)


@router.get("/applications/{app_id}", response_model=s.ApplicationDetail, tags=["applications"])
def get_application(
    request: Request, app_id: Id, who: Viewer = Depends(api_user)
) -> s.ApplicationDetail:
    return _detail(request, who, app_id)


@router.patch("/applications/{app_id}", response_model=s.ApplicationDetail, tags=["applications"])
def update_application(
    request: Request, app_id: Id, body: s.ApplicationIn, who: Viewer = Depends(api_user)
) -> s.ApplicationDetail:
    portal = portal_of(request)
    with portal.unit() as session:
        actions.save_application(
            session,
            portal.settings,
            actor_of(who),
            body.model_dump(exclude_none=True, exclude={"version"}),
            now=portal.now(),
            application_id=app_id,
            version=body.version,
        )
    return _detail(request, who, app_id)


@router.post(
    "/applications/{app_id}/actions/{trigger}",
    response_model=s.ApplicationDetail,
    tags=["applications"],
)
def act_on_application(
    request: Request,
    app_id: Id,
    trigger: str,
    body: s.ActionIn,
    who: Viewer = Depends(api_user),
) -> s.ApplicationDetail:
    portal = portal_of(request)
    if trigger not in APPLICATION.triggers:
        raise NotFound("application action", trigger)
    with portal.unit() as session:
        actions.act_on_application(
            session,
            portal.settings,
            actor_of(who),
            app_id,
            trigger,
            now=portal.now(),
            comment=body.comment,
            endorsement=body.endorsement,
            version=body.version,
        )
    return _detail(request, who, app_id)


@router.get("/applications/{app_id}/history", response_model=list[s.Event], tags=["applications"])
def application_history(
    request: Request, app_id: Id, who: Viewer = Depends(api_user)
) -> list[s.Event]:
    with portal_of(request).unit() as session:
        return [s.Event.of(e) for e in apps.history(session, actor_of(who), app_id)]


@router.post(
    "/applications/{app_id}/signed-form", response_model=s.UploadOut, tags=["applications"]
)
def upload_signed_form(
    request: Request,
    app_id: Id,
    file: UploadFile = File(description="The form signed by the mayor, as PDF."),
    who: Viewer = Depends(api_user),
) -> s.UploadOut:
    portal = portal_of(request)
    data, filename = read_upload(file, portal.settings)
    with portal.unit() as session:
        record = store_signed_form(
            session,
            portal.settings,
            actor_of(who),
            app_id,
            filename=filename,
            data=data,
            folder=portal.uploads,
            now=portal.now(),
        )
        return s.UploadOut.of(record)
