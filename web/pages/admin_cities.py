"""Administration: cities (list with search, create, edit with the contact's address).

Every form follows Post-Redirect-Get (:mod:`web.flash`); the services check who may.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web import accounts, flash
from web.forms import form_fields, from_form
from web.pages.admin_kit import paged, refused, strings, whole
from web.portal import portal_of
from web.routing import RetryingRoute
from web.schemas import Id, OneLine
from web.templating import render
from web.viewer import Viewer, actor_of, checked_form, signed_in
from workflow.errors import WorkflowError
from workflow.names import names_from
from workflow.services import directory

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)

_DONE = ("city_created", "city_saved")


class CityIn(BaseModel):
    """A city as the administrator's form gives it (the limits of the columns)."""

    model_config = ConfigDict(extra="ignore")

    country_code: str = Field(min_length=1, max_length=2)
    name: Annotated[str, OneLine] = Field(min_length=1, max_length=120)
    contact_email: str = Field(min_length=1, max_length=254)
    contact_name: Annotated[str, OneLine] = Field(default="", max_length=200)
    contact_phone: Annotated[str, OneLine] = Field(default="", max_length=50)
    mayor_name: Annotated[str, OneLine] = Field(default="", max_length=200)
    mayor_title: Annotated[str, OneLine] = Field(default="", max_length=200)
    website: Annotated[str, OneLine] = Field(default="", max_length=300)
    language: str = Field(default="en", max_length=8)
    population: str = Field(default="", max_length=20)

    def fields(self) -> dict[str, str]:
        return self.model_dump(exclude={"country_code", "name", "contact_email"})


def _city_form(values: dict[str, str]) -> CityIn:
    return from_form(CityIn, form_fields(CityIn, values))


@router.get("/admin/cities")
def cities_page(
    request: Request,
    who: Viewer = Depends(signed_in),
    q: str = "",
    country: str = "",
    page: str = "1",
    done: str = "",
) -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    values = flash.kept(request)
    number = whole(page) or 1
    country = country.strip().upper()[:2]
    with portal.reading() as session:
        size = 50
        total, rows = directory.find_cities(
            session, actor, search=q, country=country, offset=(number - 1) * size, limit=size
        )
        pages = paged(request, number, total, size)
        if pages.page.number != number:
            total, rows = directory.find_cities(
                session, actor, search=q, country=country, offset=pages.offset, limit=size
            )
        context = {
            "cities": rows,
            "pages": pages,
            "q": q,
            "country_filter": country,
            "countries": accounts.list_countries(session, actor),
            "values": values,
            "done": done if done in _DONE else "",
            "network_languages": portal.settings.network.languages,
        }
        return render(request, "admin/cities.html", context)


@router.post("/admin/cities")
def create_city(
    request: Request, who: Viewer = Depends(signed_in), form: FormData = Depends(checked_form)
) -> Response:
    portal = portal_of(request)
    values = strings(form)
    try:
        body = _city_form(values)
        with portal.unit() as session:
            city = directory.create_city(
                session,
                actor_of(who),
                country_code=body.country_code,
                name=body.name,
                contact_email=body.contact_email,
                now=portal.now(),
                languages=portal.settings.network.languages,
                names=names_from(values, "name_", portal.settings.network.languages),
                **body.fields(),
            )
            city_id = city.id
    except WorkflowError as exc:
        return refused(request, exc, "/admin/cities", values)
    return RedirectResponse(f"/admin/cities/{city_id}?done=city_created", status_code=303)


@router.get("/admin/cities/{city_id}")
def city_page(
    request: Request, city_id: Id, who: Viewer = Depends(signed_in), done: str = ""
) -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    kept = flash.kept(request)
    with portal.reading() as session:
        city = directory.get_city(session, actor, city_id)
        values = {
            "country_code": city.country_code,
            "name": city.name,
            "contact_email": city.contact_email,
            "contact_name": city.contact_name,
            "contact_phone": city.contact_phone,
            "mayor_name": city.mayor_name,
            "mayor_title": city.mayor_title,
            "website": city.website,
            "language": city.language,
            "population": "" if city.population is None else str(city.population),
            **{f"name_{k}": str(v) for k, v in city.names.items()},
            **kept,
        }
        context = {
            "city": city,
            "values": values,
            "countries": accounts.list_countries(session, actor),
            "done": done if done in _DONE else "",
            "network_languages": portal.settings.network.languages,
        }
        return render(request, "admin/city.html", context)


@router.post("/admin/cities/{city_id}")
def save_city(
    request: Request,
    city_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    values = strings(form)
    try:
        body = _city_form(values)
        with portal.unit() as session:
            directory.update_city(
                session,
                actor_of(who),
                city_id,
                country_code=body.country_code,
                name=body.name,
                contact_email=body.contact_email,
                now=portal.now(),
                languages=portal.settings.network.languages,
                names=names_from(values, "name_", portal.settings.network.languages),
                **body.fields(),
            )
    except WorkflowError as exc:
        return refused(request, exc, f"/admin/cities/{city_id}", values)
    return RedirectResponse(f"/admin/cities/{city_id}?done=city_saved", status_code=303)
