"""The public directory of the network's member cities: no sign-in.

``/directory`` (the page: search, region and country filters, by region then country),
``/directory.csv`` and ``/directory.json`` (the same rows, for the same filters), and
``GET /api/v1/directory`` (the JSON, described by OpenAPI). The rows come from one query
(``workflow.directory_views``); countries and regions are said in the reader's
language (``?lang=`` wins, then the portal's usual choice). Nothing private: no address,
no person, no state.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from web.i18n import LANGUAGES, Translate, country_name, translator
from web.listing import FilterRefused, csv_response
from web.portal import portal_of
from web.routing import RetryingRoute
from web.templating import render, said
from web.viewer import viewer
from workflow.directory_views import (
    DirectoryChoices,
    DirectoryEntry,
    DirectoryFilter,
    directory,
    directory_choices,
)
from workflow.regions import REGIONS

router = APIRouter(route_class=RetryingRoute)

_SEARCH_MAX = 100


class DirectoryEntryOut(BaseModel):
    """One member city of the public directory."""

    city: str
    country_code: str
    country: str
    region: str
    region_name: str
    admission_year: int
    website: str


@dataclass
class Query_:
    """The directory's query string, cleaned: a value it does not offer is dropped and
    said (``problem``)."""

    lang: str
    search: str = ""
    region: str = ""
    country: str = ""
    problem: FilterRefused | None = None

    @property
    def where(self) -> DirectoryFilter:
        return DirectoryFilter(
            search=self.search or None, region=self.region or None, country=self.country or None
        )

    def url(self, path: str, **extra: str) -> str:
        given = (("q", self.search), ("region", self.region), ("country", self.country))
        pairs = [(k, v) for k, v in (*given, *extra.items()) if v]
        return f"{path}?{urlencode(pairs)}" if pairs else path


def _read(request: Request, choices: DirectoryChoices) -> Query_:
    query = request.query_params
    lang = query.get("lang", "")
    found = Query_(lang=lang if lang in LANGUAGES else viewer(request).lang)
    found.search = " ".join(query.get("q", "").split())[:_SEARCH_MAX]
    region = query.get("region", "").strip().lower()
    if region and region not in REGIONS:
        found.problem = FilterRefused("choice", "field.region", region)
    elif region:
        found.region = region
    country = query.get("country", "").strip().upper()
    if country and country not in choices.countries:
        found.problem = found.problem or FilterRefused("choice", "col.country", country)
    elif country:
        found.country = country
    return found


def _region_name(t: Translate, region: str) -> str:
    return t(f"region.{region}") if region else t("region.none")


def _rows(request: Request) -> tuple[Query_, DirectoryChoices, list[DirectoryEntry]]:
    with portal_of(request).reading() as session:
        choices = directory_choices(session)
        found = _read(request, choices)
        return found, choices, directory(session, found.where)


def _out(entries: list[DirectoryEntry], lang: str) -> list[DirectoryEntryOut]:
    t = translator(lang)
    return [
        DirectoryEntryOut(
            city=e.city,
            country_code=e.country_code,
            country=country_name(e.country_code, lang, e.country),
            region=e.region,
            region_name=_region_name(t, e.region),
            admission_year=e.admission_year,
            website=e.website,
        )
        for e in entries
    ]


def link(website: str) -> str:
    """A website as a link target: only http(s) addresses (never ``javascript:``)."""
    value = website.strip()
    if value.lower().startswith(("http://", "https://")):
        return value
    if value and "://" not in value and ":" not in value.split("/")[0]:
        return f"https://{value}"
    return ""


@router.get("/directory", include_in_schema=False)
def directory_page(request: Request) -> Response:
    found, choices, entries = _rows(request)
    lang = viewer(request).lang
    t = translator(lang)
    groups: list[tuple[str, list[tuple[str, list[DirectoryEntry]]]]] = []
    for entry in entries:
        if not groups or groups[-1][0] != entry.region:
            groups.append((entry.region, []))
        countries = groups[-1][1]
        if not countries or countries[-1][0] != entry.country_code:
            countries.append((entry.country_code, []))
        countries[-1][1].append(entry)
    for _, countries in groups:
        countries.sort(key=lambda c: country_name(c[0], lang, c[0]).casefold())
    context = {
        "groups": groups,
        "total": len(entries),
        "query": found,
        "choices": choices,
        "country_options": sorted(
            choices.countries, key=lambda c: country_name(c, lang, c).casefold()
        ),
        "region_name": lambda key: _region_name(t, key),
        "link": link,
        "csv_url": found.url("/directory.csv", lang=lang),
        "json_url": found.url("/directory.json", lang=lang),
        "error": said(request, found.problem) if found.problem else None,
    }
    return render(request, "directory/index.html", context)


@router.get("/directory.csv", include_in_schema=False)
def directory_csv(request: Request) -> Response:
    found, _, entries = _rows(request)
    t = translator(found.lang)
    header = [
        t("col.city"),
        t("col.country"),
        t("directory.col.code"),
        t("field.region"),
        t("directory.col.admitted"),
        t("field.website"),
    ]
    rows = _out(entries, found.lang)
    return csv_response(
        "directory",
        header,
        (
            (r.city, r.country, r.country_code, r.region_name, r.admission_year, r.website)
            for r in rows
        ),
    )


def _json(request: Request) -> list[DirectoryEntryOut]:
    found, _, entries = _rows(request)
    return _out(entries, found.lang)


@router.get("/directory.json", include_in_schema=False)
def directory_json(request: Request) -> Response:
    return JSONResponse([r.model_dump() for r in _json(request)])


@router.get(
    "/api/v1/directory",
    response_model=list[DirectoryEntryOut],
    tags=["directory"],
    summary="The public directory of member cities",
)
def directory_api(
    request: Request,
    q: str | None = Query(None, max_length=100, description="Part of the city's name."),
    region: str | None = Query(None, description=f"One of {', '.join(REGIONS)}."),
    country: str | None = Query(None, max_length=2, description="A country code, e.g. LV."),
    lang: str | None = Query(None, description=f"One of {', '.join(LANGUAGES)}."),
) -> list[DirectoryEntryOut]:
    """Member cities (active, overdue or inactive with their reports; never removed or
    withdrawn ones) by region, country and name; no sign-in. Country and region names in
    ``lang``; a value the directory does not offer is ignored."""
    return _json(request)
