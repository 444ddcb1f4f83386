"""The network in numbers, for the Institute and administrators: ``/statistics`` (charts
and the same numbers as tables), ``/statistics/chart/<name>.svg`` (each chart, drawn by
:mod:`web.charts`) and ``GET /api/v1/statistics`` (JSON). The figures come from
:mod:`workflow.statistics`; who may see them is checked there.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.responses import Response

from web import charts
from web.api import api_user
from web.i18n import LANGUAGES, country_name, translator
from web.portal import portal_of
from web.routing import RetryingRoute
from web.templating import render
from web.viewer import Viewer, actor_of, signed_in
from workflow import statistics as stats

router = APIRouter(route_class=RetryingRoute)


def _figures(request: Request, who: Viewer) -> stats.Statistics:
    portal = portal_of(request)
    today = portal.now().date()
    with portal.reading() as session:
        return stats.statistics(session, actor_of(who), today)


@router.get("/statistics", include_in_schema=False)
def statistics_page(request: Request, who: Viewer = Depends(signed_in)) -> Response:
    figures = _figures(request, who)
    lang = who.lang
    countries = sorted(figures.growth.by_country, key=lambda c: country_name(c, lang, c).casefold())
    context: dict[str, Any] = {
        "s": figures,
        "charts": charts.CHARTS,
        "outcomes": stats.OUTCOMES,
        "compliance_parts": stats.COMPLIANCE,
        "countries": countries,
        "last": len(figures.growth.years) - 1,
    }
    return render(request, "statistics/index.html", context)


@router.get("/statistics/chart/{name}.svg", include_in_schema=False)
def chart(request: Request, name: str, who: Viewer = Depends(signed_in)) -> Response:
    if name not in charts.CHARTS:
        raise HTTPException(status_code=404)
    figures = _figures(request, who)
    lang = request.query_params.get("lang", "")
    lang = lang if lang in LANGUAGES else who.lang
    return Response(
        charts.svg(name, figures, translator(lang), lang),
        media_type="image/svg+xml",
        headers={"Content-Security-Policy": charts.SVG_POLICY},
    )


@router.get("/api/v1/statistics", tags=["statistics"], summary="The network in numbers")
def statistics_api(request: Request, who: Viewer = Depends(api_user)) -> dict[str, Any]:
    """Members by region and country at the end of each year, applications per call by
    outcome, endorsements used per country and call against the quota, and reporting
    compliance per cycle (on time, late, missing, not due yet). Institute and
    administrators only."""
    return _figures(request, who).as_json()
