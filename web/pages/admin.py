"""Administration: calls (create, extend, cancel), countries and Commissions, users."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web import accounts, actions, queries
from web.portal import portal_of
from web.routing import RetryingRoute
from web.schemas import Id
from web.templating import render, said
from web.viewer import Viewer, actor_of, checked_form, signed_in
from workflow.actors import require_role
from workflow.errors import InvalidInput, WorkflowError
from workflow.models import City
from workflow.services import calls as call_service
from workflow.services import directory
from workflow.states import Role

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)


def parse_date(value: object, field: str, *, required: bool = True) -> date | None:
    text = str(value or "").strip()
    if not text:
        if required:
            raise InvalidInput(f"{field}: required (a date like 2027-03-01).")
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{field}: {text!r} is not a date like 2027-03-01.") from exc


def _strings(form: FormData) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


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
        opens = parse_date(values.get("opens_on"), "opens_on")
        closes = parse_date(values.get("closes_on"), "closes_on")
        assert opens is not None and closes is not None
        with portal.unit() as session:
            call_service.create_call(
                session,
                portal.settings,
                actor_of(who),
                name=values.get("name", "").strip(),
                opens_on=opens,
                closes_on=closes,
                commission_deadline=parse_date(
                    values.get("commission_deadline"), "commission_deadline", required=False
                ),
                quota=actions.optional_int(values.get("quota")),
                timezone=values.get("timezone") or None,
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
        with portal.unit() as session:
            call_service.extend_call(
                session,
                actor_of(who),
                name,
                now=portal.now(),
                closes_on=parse_date(values.get("closes_on"), "closes_on", required=False),
                commission_deadline=parse_date(
                    values.get("commission_deadline"), "commission_deadline", required=False
                ),
                comment=values.get("comment", ""),
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
        with portal.unit() as session:
            call_service.cancel_call(
                session,
                actor_of(who),
                name,
                now=portal.now(),
                reason=str(form.get("reason") or ""),
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
        with portal.unit() as session:
            directory.upsert_country(
                session,
                actor_of(who),
                code=values.get("code", ""),
                name=values.get("name", ""),
                commission_name=values.get("commission_name", ""),
                commission_email=values.get("commission_email", ""),
                language=values.get("language") or "en",
                timezone=values.get("timezone") or "UTC",
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
        with portal.unit() as session:
            user = directory.create_user(
                session,
                actor_of(who),
                email=values.get("email", ""),
                name=values.get("name", ""),
                role=values.get("role", ""),
                country_code=values.get("country_code") or None,
                city_id=actions.optional_int(values.get("city_id")),
                language=values.get("language") or "en",
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
