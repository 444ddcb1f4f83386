"""The JSON API under /api/v1: the same services as the pages, described by OpenAPI.

Sign in with ``POST /api/v1/session`` and send the token as ``Authorization: Bearer``.
A browser session cookie works too; then every change must carry the page's CSRF token
in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from web import accounts, actions, queries, sessions, signin
from web import schemas as s
from web.portal import portal_of
from web.routing import RetryingRoute
from web.schemas import Id
from web.security import same_token
from web.uploads import read_upload
from web.viewer import (
    CsrfRejected,
    SignInRequired,
    Viewer,
    actor_of,
    client_of,
    end_session,
    load_viewer,
    viewer,
)
from workflow import views
from workflow.errors import NotFound
from workflow.machines import APPLICATION, WORKFLOWS
from workflow.services import applications as apps
from workflow.services import calls as call_service
from workflow.services import directory, users
from workflow.services import reports as report_service
from workflow.uploads import store_signed_form

bearer = HTTPBearer(auto_error=False, description="The token from POST /api/v1/session.")
SAFE = ("GET", "HEAD", "OPTIONS")
PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": s.Problem} for code in (400, 401, 403, 404, 409, 422, 429)
}

router = APIRouter(prefix="/api/v1", responses=PROBLEMS, route_class=RetryingRoute)


def api_user(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Viewer:
    """The signed-in user by API token, or by session cookie with the CSRF header on
    changes. A token works only while it is open on the server (web/sessions.py)."""
    if credentials is not None:
        found = load_viewer(request, credentials.credentials, sessions.API)
        if not found.signed_in:
            raise SignInRequired()
        request.state.api_token = True
        return found
    found = viewer(request)
    if not found.signed_in:
        raise SignInRequired()
    if request.method not in SAFE and not same_token(
        request.headers.get("x-csrf-token"), found.csrf
    ):
        raise CsrfRejected()
    return found


@router.post("/session", response_model=s.Token, tags=["session"])
def sign_in(request: Request, body: s.SignIn) -> s.Token:
    portal = portal_of(request)
    found = signin.sign_in(request, body.email, body.password)
    now = portal.now()
    with portal.unit() as session:
        started = sessions.start(
            session,
            portal.settings,
            found[0],
            sessions.API,
            now=now,
            label=body.label,
            client=client_of(request),
        )
    return s.Token(
        token=started.token,
        expires_in=int((started.expires_at - now).total_seconds()),
        id=started.id,
        expires_at=started.expires_at,
    )


@router.delete("/session", status_code=204, tags=["session"])
def sign_out(request: Request, who: Viewer = Depends(api_user)) -> Response:
    """End the session this request came with: the token (or the browser's session)
    stops working at once."""
    if getattr(request.state, "api_token", False):
        assert who.session_id is not None
        portal = portal_of(request)
        with portal.unit() as session:
            sessions.revoke_id(session, who.session_id, now=portal.now())
    else:
        end_session(request)
    return Response(status_code=204)


@router.get("/tokens", response_model=list[s.TokenOut], tags=["session"])
def list_tokens(request: Request, who: Viewer = Depends(api_user)) -> list[s.TokenOut]:
    """Your API tokens that still work, newest first."""
    assert who.user_id is not None
    portal = portal_of(request)
    with portal.reading() as session:
        rows = sessions.api_tokens(session, portal.settings, who.user_id, now=portal.now())
        return [
            s.TokenOut(
                id=r.id,
                label=r.label,
                created_at=r.created_at,
                last_used_at=r.last_seen_at,
                expires_at=r.expires_at,
                current=r.id == who.session_id,
            )
            for r in rows
        ]


@router.delete("/tokens/{token_id}", status_code=204, tags=["session"])
def revoke_token(request: Request, token_id: Id, who: Viewer = Depends(api_user)) -> Response:
    """End one of your API tokens. Another person's token number answers 404."""
    assert who.user_id is not None
    portal = portal_of(request)
    with portal.unit() as session:
        if not sessions.revoke_token(
            session, portal.settings, who.user_id, token_id, now=portal.now()
        ):
            raise NotFound("API token", token_id)
    return Response(status_code=204)


@router.get("/me", response_model=s.Me, tags=["session"])
def me(who: Viewer = Depends(api_user)) -> s.Me:
    assert who.user_id is not None
    return s.Me(
        id=who.user_id,
        email=who.email,
        name=who.name,
        role=who.role,
        city_id=who.city_id,
        country_code=who.country_code,
        language=who.lang,
    )


# --- applications --------------------------------------------------------------------


@router.get("/applications", response_model=list[s.ApplicationOut], tags=["applications"])
def list_applications(
    request: Request,
    who: Viewer = Depends(api_user),
    state: str | None = None,
    call: str | None = None,
    country: str | None = Query(None, max_length=2, description="A country code, e.g. LV."),
    order: Literal["newest", "waiting"] = Query(
        "newest", description="newest first, or what waits for you first (the portal's order)"
    ),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> list[s.ApplicationOut]:
    """Applications the caller may see, newest first (or ``order=waiting``: those waiting
    for the caller first, soonest Commission deadline first); page with limit and offset."""
    actor = actor_of(who)
    where = views.ApplicationFilter(state=state, call=call, country=country)
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


# --- members and reports -------------------------------------------------------------


@router.get("/members", response_model=list[s.MemberOut], tags=["members"])
def list_members(
    request: Request,
    who: Viewer = Depends(api_user),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> list[s.MemberOut]:
    """Members with their reporting status, overdue first; page with limit and offset."""
    portal = portal_of(request)
    with portal.unit() as session:
        rows = views.member_lines(
            session, portal.settings, actor_of(who), portal.now(), limit=limit, offset=offset
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
        return [s.ReportOut.of(r, views.report_actions(r, actor)) for r in reports]


@router.get("/reports", response_model=list[s.ReportOut], tags=["reports"])
def reports_to_review(request: Request, who: Viewer = Depends(api_user)) -> list[s.ReportOut]:
    actor = actor_of(who)
    with portal_of(request).unit() as session:
        found = views.reports_to_review(session, actor)
        return [s.ReportOut.of(r, views.report_actions(r, actor)) for r in found]


@router.get("/reports/{report_id}", response_model=s.ReportOut, tags=["reports"])
def get_report(request: Request, report_id: Id, who: Viewer = Depends(api_user)) -> s.ReportOut:
    actor = actor_of(who)
    with portal_of(request).unit() as session:
        report = report_service.get_report(session, actor, report_id)
        return s.ReportOut.of(report, views.report_actions(report, actor))


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
        return s.ReportOut.of(report, views.report_actions(report, actor))


# --- calls, countries, users ---------------------------------------------------------


@router.get("/calls", response_model=list[s.CallOut], tags=["administration"])
def list_calls(request: Request, who: Viewer = Depends(api_user)) -> list[s.CallOut]:
    portal = portal_of(request)
    with portal.unit() as session:
        found = queries.calls_overview(session, portal.settings, actor_of(who), portal.now())
        return [s.CallOut.of(c) for c in found]


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
        return s.CallOut.of(call)


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
        return s.CallOut.of(call)


@router.post("/calls/{name}/cancel", response_model=s.CallOut, tags=["administration"])
def cancel_call(
    request: Request, name: str, body: s.CallCancelIn, who: Viewer = Depends(api_user)
) -> s.CallOut:
    portal = portal_of(request)
    with portal.unit() as session:
        call = call_service.cancel_call(
            session, actor_of(who), name, now=portal.now(), reason=body.reason, version=body.version
        )
        return s.CallOut.of(call)


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
