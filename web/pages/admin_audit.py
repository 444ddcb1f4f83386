"""The audit log: every recorded action, filtered by subject, actor and date, newest first
(the query is the domain's: :mod:`workflow.audit_log`)."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from web.i18n import translator
from web.portal import portal_of
from web.routing import RetryingRoute
from web.templating import render, said
from web.viewer import Viewer, actor_of, signed_in
from workflow import audit_log
from workflow.errors import WorkflowError

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)

#: Where a subject of the log has a page of its own.
SUBJECT_PAGES = {
    "application": "/applications/{}",
    "membership": "/members/{}",
    "report": "/reports/{}",
}
_MAX_ID = 2_147_483_647


def _day(value: str) -> date | None:
    return date.fromisoformat(value.strip()) if value.strip() else None


def _number(value: str, default: int | None) -> int | None:
    value = value.strip()
    if not value:
        return default
    number = int(value)
    if not 0 < number <= _MAX_ID:
        raise ValueError(value)
    return number


@router.get("/admin/audit")
def audit_page(
    request: Request,
    who: Viewer = Depends(signed_in),
    kind: str = "",
    subject: str = "",
    actor: str = "",
    since: str = "",
    until: str = "",
    page: str = "",
) -> Response:
    portal = portal_of(request)
    shown = {"kind": kind, "subject": subject, "actor": actor, "since": since, "until": until}
    error: str | None = None
    try:
        where = audit_log.AuditFilter(
            kind=kind if kind in audit_log.SUBJECT_KINDS else "",
            subject_id=_number(subject, None),
            actor=actor[:254],
            since=_day(since),
            until=_day(until),
        )
        number = _number(page, 1) or 1
    except ValueError:
        error = translator(who.lang)("audit.bad_filter")
        where, number = audit_log.AuditFilter(), 1
    with portal.reading() as session:
        try:
            lines, pager = audit_log.audit_page(session, actor_of(who), where, number)
        except WorkflowError as exc:
            if exc.status == 403:
                raise
            error = said(request, exc)
            lines, pager = audit_log.audit_page(session, actor_of(who), audit_log.AuditFilter(), 1)
        query = {k: v for k, v in shown.items() if v}

        def page_link(n: int) -> str:
            return "/admin/audit?" + urlencode({**query, "page": n})

        context = {
            "lines": lines,
            "pager": pager,
            "page_link": page_link,
            "filter": shown,
            "kinds": audit_log.SUBJECT_KINDS,
            "subject_pages": SUBJECT_PAGES,
            "timezone": audit_log.TIMEZONE,
            "error": error,
        }
        return render(request, "admin/audit.html", context)
