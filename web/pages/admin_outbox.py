"""Administration: the email outbox by status, one message (headers and text), and
retry or discard, one message or many at once (ticked boxes, one button). Discarding
asks for confirmation first. The actions are ``notifications.operator``'s, as
``gnlc outbox``'s are; Post-Redirect-Get (:mod:`web.flash`).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from notifications import operator
from notifications.outbox import Status, content
from web.pages.admin_kit import paged, refused, whole
from web.portal import portal_of
from web.routing import RetryingRoute
from web.schemas import Id
from web.templating import render
from web.viewer import Viewer, actor_of, checked_form, signed_in
from workflow.errors import WorkflowError

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)

_DONE = ("outbox_retried", "outbox_discarded")


def _ids(values: list[str]) -> list[int]:
    return [n for n in (whole(v) for v in values) if n is not None]


def _back(form: FormData) -> str:
    """The page the buttons were on: a message's own page, or the list with its filter."""
    back = form.get("back")
    if isinstance(back, str) and back.startswith("/admin/outbox") and "//" not in back:
        return back
    return "/admin/outbox"


def _with_done(path: str, done: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}done={done}"


@router.get("/admin/outbox")
def outbox_page(
    request: Request,
    who: Viewer = Depends(signed_in),
    status: str = "",
    page: str = "1",
    done: str = "",
) -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    status = status if status in Status.ALL else ""
    number = whole(page) or 1
    with portal.reading() as session:
        size = 50
        counts = operator.status_counts(session, actor)
        total, rows = operator.page_of_messages(
            session, actor, status or None, offset=(number - 1) * size, limit=size
        )
        pages = paged(request, number, total, size)
        if pages.page.number != number:
            total, rows = operator.page_of_messages(
                session, actor, status or None, offset=pages.offset, limit=size
            )
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "done"]
        back = request.url.path + (f"?{urlencode(query)}" if query else "")
        context = {
            "messages": rows,
            "pages": pages,
            "status": status,
            "statuses": Status.ALL,
            "counts": counts,
            "total": sum(counts.values()),
            "back": back,
            "done": done if done in _DONE else "",
            "retryable": operator.RETRYABLE,
            "discardable": operator.DISCARDABLE,
        }
        return render(request, "admin/outbox.html", context)


@router.get("/admin/outbox/discard")
def confirm_discard(
    request: Request, who: Viewer = Depends(signed_in), id: list[str] = Query(default=[])
) -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    with portal.reading() as session:
        messages = [operator.show_message(session, actor, n) for n in _ids(id)]
        context = {"messages": messages, "discardable": operator.DISCARDABLE}
        return render(request, "admin/outbox_discard.html", context)


@router.get("/admin/outbox/{message_id}")
def message_page(
    request: Request, message_id: Id, who: Viewer = Depends(signed_in), done: str = ""
) -> Response:
    portal = portal_of(request)
    with portal.reading() as session:
        message = operator.show_message(session, actor_of(who), message_id)
        context = {
            "m": message,
            "text": content(message),
            "done": done if done in _DONE else "",
            "retryable": operator.RETRYABLE,
            "discardable": operator.DISCARDABLE,
        }
        return render(request, "admin/outbox_message.html", context)


@router.post("/admin/outbox/retry")
def retry(
    request: Request, who: Viewer = Depends(signed_in), form: FormData = Depends(checked_form)
) -> Response:
    portal = portal_of(request)
    back = _back(form)
    try:
        with portal.unit() as session:
            ids = _ids([v for v in form.getlist("id") if isinstance(v, str)])
            operator.retry_many(session, actor_of(who), ids, portal.now())
    except WorkflowError as exc:
        return refused(request, exc, back)
    return RedirectResponse(_with_done(back, "outbox_retried"), status_code=303)


@router.post("/admin/outbox/discard/confirm")
def ask_discard(
    request: Request, who: Viewer = Depends(signed_in), form: FormData = Depends(checked_form)
) -> Response:
    """The list's Discard button: to the confirmation page of the ticked messages."""
    ids = _ids([v for v in form.getlist("id") if isinstance(v, str)])
    if not ids:
        return refused(request, operator.NoneChosen(), _back(form))
    return RedirectResponse(
        f"/admin/outbox/discard?{urlencode([('id', n) for n in ids])}", status_code=303
    )


@router.post("/admin/outbox/discard")
def discard(
    request: Request, who: Viewer = Depends(signed_in), form: FormData = Depends(checked_form)
) -> Response:
    portal = portal_of(request)
    ids = _ids([v for v in form.getlist("id") if isinstance(v, str)])
    try:
        with portal.unit() as session:
            operator.discard_many(session, actor_of(who), ids)
    except WorkflowError as exc:
        return refused(request, exc, f"/admin/outbox/discard?{urlencode([('id', n) for n in ids])}")
    return RedirectResponse("/admin/outbox?status=discarded&done=outbox_discarded", status_code=303)
