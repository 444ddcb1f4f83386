"""The scheduler's dry run in the portal: pick a day, see what the sweep would change and
who would be mailed, with nothing changed or sent (``workflow.sweep.sweep(dry_run=True)``,
the same run as ``gnlc sweep --dry-run``)."""

from __future__ import annotations

from collections import Counter
from datetime import date

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from config.clock import parse_moment
from web.i18n import translator
from web.portal import portal_of
from web.routing import RetryingRoute
from web.templating import render
from web.viewer import Viewer, actor_of, signed_in
from workflow.actors import require_role
from workflow.calendar import local_date
from workflow.states import Role
from workflow.sweep import sweep

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)

#: Where a record the sweep touches has a page of its own.
SUBJECT_PAGES = {
    "application": "/applications/{}",
    "membership": "/members/{}",
    "report": "/reports/{}",
}


def _record_of(key: str) -> tuple[str, str]:
    """The record a message is about, from its outbox key ``type:id:occasion:round:to``."""
    kind, _, rest = key.partition(":")
    return kind, rest.partition(":")[0]


@router.get("/admin/preview")
def preview_page(request: Request, who: Viewer = Depends(signed_in), on: str = "") -> Response:
    portal = portal_of(request)
    require_role(actor_of(who), Role.ADMIN, doing="preview the scheduler")
    now = portal.now()
    today = local_date(now, "UTC")
    error: str | None = None
    day = today
    if on.strip():
        try:
            day = date.fromisoformat(on.strip())
        except ValueError:
            error = translator(who.lang)("preview.bad_date")
    # Today: this very moment; another day: noon UTC, as ``gnlc sweep --now <day>``.
    moment = now if day == today else parse_moment(day.isoformat())
    report = sweep(portal.factory, portal.settings, now=moment, dry_run=True)
    counts = Counter(m.occasion for m in report.messages)
    messages = [(m, *_record_of(m.key)) for m in report.messages]
    context = {
        "day": day,
        "moment_of": moment,
        "report": report,
        "changes": sorted((k, v) for k, v in report.changes.items() if v),
        "messages": messages,
        "counts": sorted(counts.items()),
        "subject_pages": SUBJECT_PAGES,
        "error": error,
    }
    return render(request, "admin/preview.html", context)
