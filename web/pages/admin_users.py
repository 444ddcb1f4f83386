"""Administration: countries and their Commissions, users (list, search, create and
invite, edit, deactivate and reactivate).

Every form follows Post-Redirect-Get (:mod:`web.flash`); the services check who may.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web import accounts, flash
from web.forms import form_fields, from_form
from web.pages.admin_kit import paged, refused, strings, whole
from web.portal import portal_of
from web.routing import RetryingRoute
from web.schemas import CountryIn, Id, UserIn
from web.templating import render
from web.viewer import Viewer, actor_of, checked_form, signed_in
from workflow.actors import require_role
from workflow.errors import WorkflowError
from workflow.models import City, Country
from workflow.names import city_name, names_from
from workflow.regions import REGIONS
from workflow.services import directory, users
from workflow.states import Role

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)

#: The roles a user can be given, in the order the forms offer them.
ROLES = ("city", "commission", "juror", "institute", "admin")


# --- countries -----------------------------------------------------------------------


@router.get("/admin/countries")
def countries_page(
    request: Request, who: Viewer = Depends(signed_in), done: str = "", code: str = ""
) -> Response:
    """``?code=LV``: the form opens with that country's values, to change them."""
    portal = portal_of(request)
    actor = actor_of(who)
    values = flash.kept(request)
    with portal.reading() as session:
        # Reading is open to the signed-in; the page is for those who may change them.
        require_role(actor, Role.ADMIN, doing="change countries")
        countries = accounts.list_countries(session, actor)
        chosen = next((c for c in countries if c.code == code.strip().upper()), None)
        if chosen is not None and not values:
            values = _country_values(chosen)
        context = {
            "countries": countries,
            "values": values,
            "done": done if done == "country_saved" else "",
            "network_languages": portal.settings.network.languages,
            "regions": REGIONS,
        }
        return render(request, "admin/countries.html", context)


@router.post("/admin/countries")
def save_country(
    request: Request, who: Viewer = Depends(signed_in), form: FormData = Depends(checked_form)
) -> Response:
    portal = portal_of(request)
    values = strings(form)
    try:
        body = from_form(CountryIn, form_fields(CountryIn, values))
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
                languages=portal.settings.network.languages,
                region=body.region,
                commission_names=names_from(
                    values, "commission_name_", portal.settings.network.languages
                ),
            )
    except WorkflowError as exc:
        return refused(request, exc, "/admin/countries", values)
    return RedirectResponse("/admin/countries?done=country_saved", status_code=303)


def _country_values(c: Country) -> dict[str, str]:
    """The form's fields for country ``c``, its Commission's names per language too."""
    return {
        "code": c.code,
        "name": c.name,
        "commission_name": c.commission_name,
        "commission_email": c.commission_email,
        "language": c.language,
        "timezone": c.timezone,
        "region": c.region,
        **{f"commission_name_{k}": str(v) for k, v in c.commission_names.items()},
    }


# --- users ---------------------------------------------------------------------------

_USER_DONE = ("invited", "user_saved", "user_deactivated", "user_reactivated")


@router.get("/admin/users")
def users_page(
    request: Request,
    who: Viewer = Depends(signed_in),
    q: str = "",
    role: str = "",
    page: str = "1",
    done: str = "",
) -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    values = flash.kept(request)
    role = role if role in ROLES else ""
    number = whole(page) or 1
    with portal.reading() as session:
        size = 50
        total, rows = users.find_users(
            session, actor, search=q, role=role, offset=(number - 1) * size, limit=size
        )
        pages = paged(request, number, total, size)
        if pages.page.number != number:
            total, rows = users.find_users(
                session, actor, search=q, role=role, offset=pages.offset, limit=size
            )
        cities = list(session.scalars(select(City).order_by(City.name, City.country_code)))
        context = {
            "users": rows,
            "pages": pages,
            "q": q,
            "role": role,
            "roles": ROLES,
            "city_names": {c.id: city_name(c, who.lang) for c in cities},
            "cities": cities,
            "countries": accounts.list_countries(session, actor),
            "values": values,
            "done": done if done in _USER_DONE else "",
            "network_languages": portal.settings.network.languages,
        }
        return render(request, "admin/users.html", context)


@router.post("/admin/users")
def create_user(
    request: Request, who: Viewer = Depends(signed_in), form: FormData = Depends(checked_form)
) -> Response:
    portal = portal_of(request)
    values = strings(form)
    try:
        body = from_form(UserIn, form_fields(UserIn, values))
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
        return refused(request, exc, "/admin/users", values)
    return RedirectResponse("/admin/users?done=invited", status_code=303)


@router.post("/admin/users/{user_id}/invite")
def invite_user(
    request: Request,
    user_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    back = _back_to(form, user_id)
    try:
        with portal.unit() as session:
            accounts.invite(session, portal.settings, actor_of(who), user_id, now=portal.now())
    except WorkflowError as exc:
        return refused(request, exc, back)
    return RedirectResponse(f"{back}?done=invited", status_code=303)


def _back_to(form: FormData, user_id: int) -> str:
    """The page a user's button was on: their own page, or the list."""
    return f"/admin/users/{user_id}" if form.get("from") == "user" else "/admin/users"


@router.get("/admin/users/{user_id}")
def user_page(
    request: Request, user_id: Id, who: Viewer = Depends(signed_in), done: str = ""
) -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    kept = flash.kept(request)
    with portal.reading() as session:
        user = users.get_user(session, actor, user_id)
        values = {
            "name": user.name,
            "email": user.email,
            "language": user.language,
            "role": user.role,
            "country_code": user.country_code or "",
            "city_id": str(user.city_id or ""),
            "active": "1" if user.active else "",
            **kept,
        }
        if kept and "active" not in kept:
            values["active"] = ""  # an unticked box is not in the form
        context = {
            "user": user,
            "values": values,
            "roles": ROLES,
            "cities": list(session.scalars(select(City).order_by(City.name, City.country_code))),
            "countries": accounts.list_countries(session, actor),
            "done": done if done in _USER_DONE else "",
            "network_languages": portal.settings.network.languages,
        }
        return render(request, "admin/user.html", context)


@router.post("/admin/users/{user_id}")
def save_user(
    request: Request,
    user_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    values = strings(form)
    try:
        body = from_form(UserIn, form_fields(UserIn, values))
        with portal.unit() as session:
            users.edit_user(
                session,
                actor_of(who),
                user_id,
                now=portal.now(),
                name=body.name,
                email=body.email,
                language=body.language or "en",
                role=body.role,
                country_code=body.country_code or None,
                city_id=body.city_id,
                active=values.get("active") == "1",
                languages=portal.settings.network.languages,
            )
    except WorkflowError as exc:
        return refused(request, exc, f"/admin/users/{user_id}", values)
    return RedirectResponse(f"/admin/users/{user_id}?done=user_saved", status_code=303)


@router.post("/admin/users/{user_id}/active")
def set_active(
    request: Request,
    user_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    """Deactivate (every session ends) or reactivate an account, from the list or its page."""
    portal = portal_of(request)
    active = form.get("active") == "1"
    back = _back_to(form, user_id)
    try:
        with portal.unit() as session:
            user = users.get_user(session, actor_of(who), user_id)
            users.change_user(session, actor_of(who), user.email, now=portal.now(), active=active)
    except WorkflowError as exc:
        return refused(request, exc, back)
    done = "user_reactivated" if active else "user_deactivated"
    return RedirectResponse(f"{back}?done={done}", status_code=303)
