"""What a reader gets while the database does not answer (a restart, an outage).

A request whose database work fails because the server cannot be reached
(``workflow.db.unreachable``) is answered with :class:`workflow.errors.Unavailable`: a
503 page in the reader's language, or the API's JSON refusal, with ``Retry-After``;
never an error 500. The log has one line per such request, not a traceback.

A statement that finds its connection dropped by the server runs again on a new one
before it comes to this (``workflow.db.retried`` for handlers and commands, the session
lookup in ``web.viewer``), so a restart that is over costs nobody a page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.viewer import anonymous
from workflow.db import unreachable
from workflow.errors import Unavailable, WorkflowError

log = logging.getLogger(__name__)

Answer = Callable[[Request, WorkflowError], Response]


class DatabaseDown:
    """Plain ASGI, inside ``web.viewer.SessionCookie`` (the page needs the browser's
    session for its forms) and outside everything that reads the database."""

    def __init__(self, app: ASGIApp, answer: Answer) -> None:
        self.app = app
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started or not unreachable(exc):
                raise
            said = str(getattr(exc, "orig", exc)).strip().splitlines()
            log.warning(
                "%s %s: the database did not answer, answered 503: %s",
                scope["method"],
                scope["path"],
                said[0] if said else type(exc).__name__,
            )
            request = Request(scope, receive)
            if getattr(request.state, "viewer", None) is None:
                # Who is signed in cannot be read now: the page is drawn as for anyone.
                request.state.viewer = anonymous(request)
            response = await run_in_threadpool(self.answer, request, Unavailable())
            await response(scope, receive, send)
