"""Administration: calls (create, extend, cancel), countries and Commissions, users."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web import accounts, queries
from web.forms import M, form_fields, from_form
from web.portal import portal_of
from web.routing import RetryingRoute
from web.schemas import CallCancelIn, CallExtendIn, CallIn, CountryIn, Id, UserIn
from web.templating import render, said
from web.viewer import Viewer, actor_of, checked_form, signed_in
from workflow.actors import require_role
from workflow.errors import WorkflowError
from workflow.models import City
from workflow.services import calls as call_service
from workflow.services import directory, users
from workflow.states import Role

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)


def _strings(form: FormData) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _body(model: type[M], values: Mapping[str, str]) -> M:
    """The form as the API's body for the same action: the same model, the same limits."""
    return from_form(model, form_fields(model, values))


# --- calls ---------------------------------------------------------------------------


def _calls_page(
    request: Request, who: Viewer, error: str | None = None, status: int = 200, **values: Any
) -> Response:
    portal = portal_of(request)
    with portal.unit() as session:
        calls = queries.calls_overview(session, portal.settings, actor_of(who), portal.now())
        context = {"calls": calls, "error": error, "values": values, "done": values.get("done")}
        return render(request, "admin/calls.html", context, status=status)


@router.get("/admin/calls")
def calls_page(request: Request, who: Viewer = Depends(signed_in), done: str = "") -> Response:
    return _calls_page(request, who, done=done)


@router.post("/admin/calls")
def create_call(
    request: Request, who: Viewer = Depends(signed_in), form: FormData = Depends(checked_form)
) -> Response:
    portal = portal_of(request)
    values = _strings(form)
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
        return _calls_page(request, who, said(request, exc), exc.status, **values)
    return RedirectResponse("/admin/calls?done=created", status_code=303)


@router.post("/admin/calls/{name}/extend")
def extend_call(
    request: Request,
    name: str,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    values = _strings(form)
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
        return _calls_page(request, who, said(request, exc), exc.status)
    return RedirectResponse("/admin/calls?done=extended", status_code=303)


@router.post("/admin/calls/{name}/cancel")
def cancel_call(
    request: Request,
    name: str,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    try:
        body = _body(CallCancelIn, _strings(form))
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
        return _calls_page(request, who, said(request, exc), exc.status)
    return RedirectResponse("/admin/calls?done=cancelled", status_code=303)


# --- countries -----------------------------------------------------------------------


def _countries_page(
    request: Request, who: Viewer, error: str | None = None, status: int = 200, **values: Any
) -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    with portal.unit() as session:
        # Reading is open to the signed-in; the page is for those who may change them.
        require_role(actor, Role.ADMIN, doing="change countries")
        countries = accounts.list_countries(session, actor)
        context = {"countries": countries, "error": error, "values": values}
        return render(request, "admin/countries.html", context, status=status)


@router.get("/admin/countries")
def countries_page(request: Request, who: Viewer = Depends(signed_in)) -> Response:
    return _countries_page(request, who)


@router.post("/admin/countries")
def save_country(
    request: Request, who: Viewer = Depends(signed_in), form: FormData = Depends(checked_form)
) -> Response:
    portal = portal_of(request)
    values = _strings(form)
    try:
        body = _body(CountryIn, values)
        with portal.unit() as session:
            directory.upsert_country(
                session,
                actor_of(who),
                code=values.get("code", ""),
                name=body.name,
                commission_name=body.commission_name,
                commission_email=body.commission_email,
                language=body.language or "en",
                timezone=body.timezone or "UTC",
                now=portal.now(),
            )
    except WorkflowError as exc:
        return _countries_page(request, who, said(request, exc), exc.status, **values)
    return RedirectResponse("/admin/countries", status_code=303)


# --- users ---------------------------------------------------------------------------


def _users_page(
    request: Request,
    who: Viewer,
    error: str | None = None,
    status: int = 200,
    done: str = "",
    **values: Any,
) -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    with portal.unit() as session:
        users = accounts.list_users(session, actor)
        cities = list(session.scalars(select(City).order_by(City.name)))
        countries = accounts.list_countries(session, actor)
        context = {
            "users": users,
            "cities": cities,
            "countries": countries,
            "error": error,
            "values": values,
            "done": done,
        }
        return render(request, "admin/users.html", context, status=status)


@router.get("/admin/users")
def users_page(request: Request, who: Viewer = Depends(signed_in), done: str = "") -> Response:
    return _users_page(request, who, done=done)


@router.post("/admin/users")
def create_user(
    request: Request, who: Viewer = Depends(signed_in), form: FormData = Depends(checked_form)
) -> Response:
    portal = portal_of(request)
    values = _strings(form)
    try:
        body = _body(UserIn, values)
        with portal.unit() as session:
            user = users.create_user(
                session,
                actor_of(who),
                email=body.email,
                name=body.name,
                role=body.role,
                country_code=body.country_code or None,
                city_id=body.city_id,
                language=body.language or "en",
                now=portal.now(),
            )
            accounts.invite(session, portal.settings, actor_of(who), user.id, now=portal.now())
    except WorkflowError as exc:
        return _users_page(request, who, said(request, exc), exc.status, **values)
    return RedirectResponse("/admin/users?done=invited", status_code=303)


@router.post("/admin/users/{user_id}/invite")
def invite_user(
    request: Request,
    user_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    try:
        with portal.unit() as session:
            accounts.invite(session, portal.settings, actor_of(who), user_id, now=portal.now())
    except WorkflowError as exc:
        return _users_page(request, who, said(request, exc), exc.status)
    return RedirectResponse("/admin/users?done=invited", status_code=303)
