"""Calendar feeds: the feed itself at its secret address (no sign-in), the owner's page
to copy or renew the address, and the same in the JSON API (``/api/v1/calendar``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web import feeds, flash
from web.actions import NotConfirmed
from web.api import PROBLEMS, api_user
from web.portal import portal_of
from web.routing import RetryingRoute, in_loop
from web.templating import render, said
from web.viewer import Viewer, actor_of, checked_form, signed_in
from workflow import feeds as feed_model
from workflow.calendar import as_utc, local_date, start_of_day
from workflow.errors import NotFound, WorkflowError

router = APIRouter(route_class=RetryingRoute)

PAGE = "/account/calendar"
#: ``?done=`` notices of this page (web/catalogue.py RUNTIME "done").
DONE = ("calendar_renewed",)
#: How many of the feed's coming events the owner's page lists.
PREVIEW = 8


class CalendarOut(BaseModel):
    """The caller's own calendar feed: its secret address (no sign-in needed to read it)."""

    url: str
    renewed_at: datetime


@router.get(feeds.PATH, include_in_schema=False)
def feed(request: Request, token: str) -> Response:
    """The feed at its secret address: iCalendar in its owner's language."""
    portal = portal_of(request)
    with portal.reading() as session:
        user = feeds.owner(session, token)
        if user is None:
            raise NotFound("calendar feed", "…")
        body = feeds.calendar(session, portal.settings, user, portal.now())
    return Response(
        body,
        media_type=feeds.MEDIA_TYPE,
        headers={
            "Content-Disposition": 'inline; filename="gnlc.ics"',
            "Cache-Control": "private, max-age=300",
            "X-Robots-Tag": "noindex",
            "Referrer-Policy": "no-referrer",
        },
    )


@dataclass(frozen=True)
class Coming:
    """One of the feed's next events as the owner's page lists it."""

    summary: str
    entry: feed_model.Entry
    order: datetime


def _preview(who: Viewer, entries: list[feed_model.Entry], now: datetime) -> list[Coming]:
    """The feed's events that have not ended yet, soonest first."""
    shown: list[Coming] = []
    for entry in entries:
        if entry.day is not None:
            if entry.day < local_date(now, entry.timezone):
                continue
            order = start_of_day(entry.day, entry.timezone)
        else:
            assert entry.starts is not None and entry.ends is not None
            if as_utc(entry.ends) <= as_utc(now):
                continue
            order = as_utc(entry.starts)
        shown.append(Coming(feeds.words(who.lang, entry)[0], entry, order))
    return sorted(shown, key=lambda c: c.order)[:PREVIEW]


@router.get(PAGE, include_in_schema=False)
@in_loop
def calendar_page(request: Request, done: str = "", who: Viewer = Depends(signed_in)) -> Response:
    portal = portal_of(request)
    assert who.user_id is not None
    now = portal.now()
    found = _address(request, who.user_id)
    with portal.reading() as session:
        entries = feed_model.entries(session, portal.settings, actor_of(who), now)
        coming = _preview(who, entries, now)
    context = {
        "url": found.url,
        "renewed_at": found.renewed_at,
        "coming": coming,
        "done": done if done in DONE else "",
    }
    return render(request, "account/calendar.html", context)


@router.post(PAGE + "/renew", include_in_schema=False)
def renew_page(
    request: Request, form: FormData = Depends(checked_form), who: Viewer = Depends(signed_in)
) -> Response:
    """A new secret address; the old one stops working (confirmed: it cannot be undone)."""
    portal = portal_of(request)
    assert who.user_id is not None
    try:
        if form.get("confirm") != "yes":
            raise NotConfirmed()
        with portal.unit() as session:
            feeds.renew(session, portal.settings, who.user_id, portal.now())
    except WorkflowError as exc:
        return flash.back(request, PAGE, error=said(request, exc))
    return RedirectResponse(PAGE + "?done=calendar_renewed", status_code=303)


# --- the JSON API ----------------------------------------------------------------------


def _address(request: Request, user_id: int) -> feeds.Address:
    """The user's feed address: read, and written only the first time (a page view must
    not take the write lock on every visit)."""
    portal = portal_of(request)
    with portal.reading() as session:
        found = feeds.existing(session, portal.settings, user_id)
    if found is None:
        with portal.unit() as session:
            found = feeds.address(session, portal.settings, user_id, portal.now())
    return found


def _out(found: feeds.Address) -> CalendarOut:
    return CalendarOut(url=found.url, renewed_at=found.renewed_at)


@router.get("/api/v1/calendar", response_model=CalendarOut, responses=PROBLEMS, tags=["calendar"])
def api_calendar(request: Request, who: Viewer = Depends(api_user)) -> CalendarOut:
    """Your calendar feed's secret address (made on first use)."""
    assert who.user_id is not None
    return _out(_address(request, who.user_id))


@router.post("/api/v1/calendar", response_model=CalendarOut, responses=PROBLEMS, tags=["calendar"])
def api_renew(request: Request, who: Viewer = Depends(api_user)) -> CalendarOut:
    """A new secret address for your calendar feed: the old one stops working at once."""
    portal = portal_of(request)
    assert who.user_id is not None
    with portal.unit() as session:
        return _out(feeds.renew(session, portal.settings, who.user_id, portal.now()))
