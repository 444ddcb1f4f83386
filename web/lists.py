"""The portal's three long lists (applications, members, reports): search, filters, sort,
pages and CSV export, on the domain's filter objects (``workflow.views.ApplicationFilter``,
``workflow.member_views.MemberFilter``, ``ReportFilter``), which the API and the CLI use
too. The routes are in ``web.pages.applications`` and ``web.pages.members``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from web import listing
from web.i18n import state_word, translator
from web.listing import Choices, Listing, csv_response
from web.portal import portal_of
from web.templating import render, said
from web.viewer import Viewer, actor_of
from workflow import member_views, views
from workflow.actors import Actor
from workflow.states import ApplicationState, MembershipState, ReportState, Role


def _options(
    actor: Actor, options: views.FilterOptions, states: list[str], kind: str
) -> dict[str, Any]:
    wide = actor.role in (Role.INSTITUTE, Role.ADMIN)
    return {
        "states": states,
        "kind": kind,
        "countries": options.countries if wide else [],
        "calls": options.calls,
        "search": actor.role is not Role.CITY,
    }


def _page(
    request: Request,
    template: str,
    found: Listing,
    context: dict[str, Any],
) -> Response:
    error = said(request, found.problem) if found.problem else None
    status = 400 if found.problem else 200
    return render(request, template, {**context, "listing": found, "error": error}, status)


def applications(request: Request, who: Viewer, *, as_csv: bool = False) -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    states = [s.value for s in ApplicationState]
    with portal.reading() as session:
        options = views.filter_options(session, actor)
        choices = Choices(states, views.APPLICATION_SORTS, options.countries, options.calls)
        found = listing.read(request, choices)
        where = views.ApplicationFilter(
            state=found.text("state"),
            call=found.text("call"),
            country=found.text("country"),
            search=found.text("q"),
            year=found.year,
            sort=found.text("sort"),
        )
        if (as_csv or found.csv) and not found.problem:
            rows = views.queue_lines(session, actor, where, limit=listing.CSV_LIMIT)
            return _applications_csv(who.lang, rows)
        pager, rows = views.queue_page(session, actor, found.page, where)
    # Rendered after the transaction: the rows are plain values.
    context = {"rows": rows, "pager": pager, "filters": _options(actor, options, states, "")}
    return _page(request, "applications/list.html", found, context)


def _applications_csv(lang: str, rows: list[views.QueueLine]) -> Response:
    t = translator(lang)
    header = [
        t("col.number"),
        t("col.city"),
        t("col.country"),
        t("col.call"),
        t("col.state"),
        t("col.route"),
        t("col.deadline"),
        t("col.quota_left"),
    ]
    return csv_response(
        "applications",
        header,
        (
            (
                r.id,
                r.city,
                r.country_code,
                r.call,
                t(f"state.{r.state}"),
                t(f"route.{r.route}"),
                r.deadline,
                r.quota_left,
            )
            for r in rows
        ),
    )


def members(request: Request, who: Viewer, *, as_csv: bool = False) -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    states = [s.value for s in MembershipState]
    with portal.reading() as session:
        options = views.filter_options(session, actor)
        choices = Choices(states, member_views.MEMBER_SORTS, options.countries)
        found = listing.read(request, choices)
        where = member_views.MemberFilter(
            state=found.text("state"),
            country=found.text("country"),
            search=found.text("q"),
            year=found.year,
            sort=found.text("sort"),
        )
        now = portal.now()
        if (as_csv or found.csv) and not found.problem:
            lines = member_views.member_lines(
                session, portal.settings, actor, now, where, limit=listing.CSV_LIMIT
            )
            return _members_csv(who.lang, lines)
        pager, lines = member_views.member_page(
            session, portal.settings, actor, now, found.page, where
        )
    filters = _options(actor, options, states, "membership")
    filters["calls"] = []
    context = {"rows": lines, "pager": pager, "filters": filters}
    return _page(request, "members/list.html", found, context)


def _members_csv(lang: str, rows: list[member_views.MemberLine]) -> Response:
    t = translator(lang)
    header = [
        t("col.city"),
        t("col.country"),
        t("col.state"),
        t("col.admitted"),
        t("col.overdue"),
        t("col.next_due"),
    ]
    return csv_response(
        "members",
        header,
        (
            (
                r.city,
                r.country_code,
                state_word(t, r.state, "membership"),
                r.admitted_on,
                r.overdue,
                r.next_due,
            )
            for r in rows
        ),
    )


def reports(request: Request, who: Viewer, *, as_csv: bool = False) -> Response:
    """The Institute's reports: those to review by default (submitted, longest waiting
    first); any state, country, year or city on request."""
    portal = portal_of(request)
    actor = actor_of(who)
    states = [s.value for s in ReportState]
    with portal.reading() as session:
        options = views.filter_options(session, actor)
        choices = Choices(states, member_views.REPORT_SORTS, options.countries)
        found = listing.read(request, choices, default_state=ReportState.SUBMITTED.value)
        where = member_views.ReportFilter(
            state=found.text("state"),
            country=found.text("country"),
            search=found.text("q"),
            year=found.year,
            sort=found.text("sort"),
        )
        if (as_csv or found.csv) and not found.problem:
            pager, lines = member_views.report_page(
                session, actor, 1, where, size=listing.CSV_LIMIT
            )
            return _reports_csv(who.lang, lines)
        pager, lines = member_views.report_page(session, actor, found.page, where)
    filters = _options(actor, options, states, "report")
    filters["calls"] = []
    context = {"reports": lines, "pager": pager, "filters": filters}
    return _page(request, "reports/list.html", found, context)


def _reports_csv(lang: str, rows: list[member_views.ReportLine]) -> Response:
    t = translator(lang)
    header = [
        t("col.report"),
        t("col.city"),
        t("col.country"),
        t("col.due"),
        t("col.state"),
        t("report.late"),
        t("col.submitted"),
    ]
    return csv_response(
        "reports",
        header,
        (
            (
                r.id,
                r.city,
                r.country_code,
                r.due_on,
                state_word(t, r.state, "report"),
                t("list.yes") if r.late else "",
                r.submitted_at,
            )
            for r in rows
        ),
    )
