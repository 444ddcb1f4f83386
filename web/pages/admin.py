"""Administration: calls (create, extend, cancel). Countries and users: ``admin_users``."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web import flash, queries
from web.forms import M, form_fields, from_form
from web.portal import portal_of
from web.routing import RetryingRoute
from web.schemas import CallCancelIn, CallExtendIn, CallIn
from web.templating import render, said
from web.viewer import Viewer, actor_of, checked_form, signed_in
from workflow.errors import WorkflowError
from workflow.services import calls as call_service

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)


def _strings(form: FormData) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _body(model: type[M], values: Mapping[str, str]) -> M:
    """The form as the API's body for the same action: the same model, the same limits."""
    return from_form(model, form_fields(model, values))


# --- calls ---------------------------------------------------------------------------


def _calls_page(request: Request, who: Viewer, done: str = "") -> Response:
    portal = portal_of(request)
    kept = flash.kept(request)  # the input of a refused form, to show again
    portal.calls_ready()
    with portal.reading() as session:
        now = portal.now()
        calls = queries.calls_overview(session, portal.settings, actor_of(who), now)
        context = {
            "lines": [call_service.line(c, now) for c in calls],
            "values": kept if kept.get("form") == "create" else {},
            "extending": kept if kept.get("form") == "extend" else {},
            "done": done,
        }
        return render(request, "admin/calls.html", context)


@router.get("/admin/calls")
def calls_page(request: Request, who: Viewer = Depends(signed_in), done: str = "") -> Response:
    return _calls_page(request, who, done=done)


@router.post("/admin/calls")
def create_call(
    request: Request, who: Viewer = Depends(signed_in), form: FormData = Depends(checked_form)
) -> Response:
    portal = portal_of(request)
    values = {**_strings(form), "form": "create"}
    try:
        body = _body(CallIn, values)
        with portal.unit() as session:
            call_service.create_call(
                session,
                portal.settings,
                actor_of(who),
                name=body.name.strip(),
                opens_on=body.opens_on,
                closes_on=body.closes_on,
                commission_deadline=body.commission_deadline,
                quota=body.quota,
                timezone=body.timezone or None,
                now=portal.now(),
            )
    except WorkflowError as exc:
        return flash.back(request, "/admin/calls", error=said(request, exc), values=values)
    return RedirectResponse("/admin/calls?done=created", status_code=303)


@router.post("/admin/calls/{name}/extend")
def extend_call(
    request: Request,
    name: str,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    values = {**_strings(form), "form": "extend", "call": name}
    try:
        body = _body(CallExtendIn, values)
        with portal.unit() as session:
            call_service.extend_call(
                session,
                actor_of(who),
                name,
                now=portal.now(),
                closes_on=body.closes_on,
                commission_deadline=body.commission_deadline,
                comment=body.comment,
                version=body.version,
            )
    except WorkflowError as exc:
        return flash.back(request, "/admin/calls", error=said(request, exc), values=values)
    return RedirectResponse("/admin/calls?done=extended", status_code=303)


def _call_path(name: str) -> str:
    return f"/admin/calls/{quote(name, safe='')}/cancel"


@router.get("/admin/calls/{name}/cancel")
def cancel_call_page(request: Request, name: str, who: Viewer = Depends(signed_in)) -> Response:
    """The confirmation step before a call is cancelled (it cannot be undone)."""
    portal = portal_of(request)
    kept = flash.kept(request)
    portal.calls_ready()
    with portal.reading() as session:
        now = portal.now()
        queries.calls_overview(session, portal.settings, actor_of(who), now)  # who may
        found = call_service.line(call_service.by_name(session, name), now)
        context = {"line": found, "values": kept, "path": _call_path(name)}
        return render(request, "admin/call_cancel.html", context)


@router.post("/admin/calls/{name}/cancel")
def cancel_call(
    request: Request,
    name: str,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    values = _strings(form)
    try:
        body = _body(CallCancelIn, values)
        with portal.unit() as session:
            call_service.cancel_call(
                session,
                actor_of(who),
                name,
                now=portal.now(),
                reason=body.reason,
                version=body.version,
            )
    except WorkflowError as exc:
        return flash.back(request, _call_path(name), error=said(request, exc), values=values)
    return RedirectResponse("/admin/calls?done=cancelled", status_code=303)
