"""The JSON API's administration routes under /api/v1: calls, countries, users and the
workflow tables (the shared parts: ``web.api``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from web import accounts, queries
from web import schemas as s
from web.api import PROBLEMS, api_user
from web.portal import portal_of
from web.routing import RetryingRoute
from web.schemas import Id
from web.viewer import Viewer, actor_of
from workflow.errors import NotFound
from workflow.machines import WORKFLOWS
from workflow.services import calls as call_service
from workflow.services import directory, users

router = APIRouter(prefix="/api/v1", responses=PROBLEMS, route_class=RetryingRoute)


@router.get("/calls", response_model=list[s.CallOut], tags=["administration"])
def list_calls(request: Request, who: Viewer = Depends(api_user)) -> list[s.CallOut]:
    portal = portal_of(request)
    portal.calls_ready()
    with portal.reading() as session:
        now = portal.now()
        found = queries.calls_overview(session, portal.settings, actor_of(who), now)
        return [s.CallOut.of(c, now) for c in found]


@router.post("/calls", response_model=s.CallOut, status_code=201, tags=["administration"])
def create_call(request: Request, body: s.CallIn, who: Viewer = Depends(api_user)) -> s.CallOut:
    portal = portal_of(request)
    with portal.unit() as session:
        call = call_service.create_call(
            session,
            portal.settings,
            actor_of(who),
            name=body.name.strip(),
            opens_on=body.opens_on,
            closes_on=body.closes_on,
            commission_deadline=body.commission_deadline,
            quota=body.quota,
            timezone=body.timezone,
            now=portal.now(),
        )
        return s.CallOut.of(call, portal.now())


@router.post("/calls/{name}/extend", response_model=s.CallOut, tags=["administration"])
def extend_call(
    request: Request, name: str, body: s.CallExtendIn, who: Viewer = Depends(api_user)
) -> s.CallOut:
    portal = portal_of(request)
    with portal.unit() as session:
        call = call_service.extend_call(
            session,
            actor_of(who),
            name,
            now=portal.now(),
            closes_on=body.closes_on,
            commission_deadline=body.commission_deadline,
            version=body.version,
            comment=body.comment,
        )
        return s.CallOut.of(call, portal.now())


@router.post("/calls/{name}/cancel", response_model=s.CallOut, tags=["administration"])
def cancel_call(
    request: Request, name: str, body: s.CallCancelIn, who: Viewer = Depends(api_user)
) -> s.CallOut:
    portal = portal_of(request)
    with portal.unit() as session:
        call = call_service.cancel_call(
            session, actor_of(who), name, now=portal.now(), reason=body.reason, version=body.version
        )
        return s.CallOut.of(call, portal.now())


@router.get("/countries", response_model=list[s.CountryOut], tags=["administration"])
def list_countries(request: Request, who: Viewer = Depends(api_user)) -> list[s.CountryOut]:
    with portal_of(request).unit() as session:
        return [s.CountryOut.of(c) for c in accounts.list_countries(session, actor_of(who))]


@router.put("/countries/{code}", response_model=s.CountryOut, tags=["administration"])
def save_country(
    request: Request, code: str, body: s.CountryIn, who: Viewer = Depends(api_user)
) -> s.CountryOut:
    portal = portal_of(request)
    with portal.unit() as session:
        country = directory.upsert_country(
            session, actor_of(who), code=code, now=portal.now(), **body.model_dump()
        )
        return s.CountryOut.of(country)


@router.get("/users", response_model=list[s.UserOut], tags=["administration"])
def list_users(request: Request, who: Viewer = Depends(api_user)) -> list[s.UserOut]:
    with portal_of(request).unit() as session:
        return [s.UserOut.of(u) for u in accounts.list_users(session, actor_of(who))]


@router.post("/users", response_model=s.UserOut, status_code=201, tags=["administration"])
def create_user(request: Request, body: s.UserIn, who: Viewer = Depends(api_user)) -> s.UserOut:
    portal = portal_of(request)
    actor = actor_of(who)
    with portal.unit() as session:
        user = users.create_user(
            session,
            actor,
            now=portal.now(),
            **body.model_dump(exclude={"invite"}),
        )
        if body.invite:
            accounts.invite(session, portal.settings, actor, user.id, now=portal.now())
        return s.UserOut.of(user)


@router.post("/users/{user_id}/invite", status_code=204, tags=["administration"])
def invite_user(request: Request, user_id: Id, who: Viewer = Depends(api_user)) -> None:
    portal = portal_of(request)
    with portal.unit() as session:
        accounts.invite(session, portal.settings, actor_of(who), user_id, now=portal.now())


@router.get("/workflows/{name}", response_model=s.WorkflowOut, tags=["workflows"])
def workflow_table(name: str, who: Viewer = Depends(api_user)) -> s.WorkflowOut:
    workflow = WORKFLOWS.get(name)
    if workflow is None:
        raise NotFound("workflow", name)
    return s.WorkflowOut(
        name=workflow.name,
        initial=workflow.initial.value,
        states=[st.value for st in workflow.states],
        transitions=[
            s.Transition(source=a, trigger=t, dest=b, roles=sorted(r.value for r in roles))
            for a, t, b, roles in workflow.edges()
        ],
    )
