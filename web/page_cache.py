"""Pages drawn once while nothing changed: a signed-in person's page, kept in the worker
that drew it, is sent again as it was as long as the database has not changed since.

Benchmark 4 showed that drawing one of the working day's pages (the Commission's
queue, the member list, an application, the home page) takes 3-8 ms of one core at
10,000 members, of which no part dominates: its statements, its templates, the
framework. Sending a page already drawn takes a fraction of that.

A kept page is sent again only when all of these hold:

- the same request: method GET, the same path and query, every header byte for byte
  (so the same session cookie, hence the same person, CSRF token and language
  preference), from the same client address;
- the same minute of the portal's clock: whatever a page says about "now" (a window
  open or closed, a deadline passed) is by the day in some time zone, and every zone's
  midnight falls on a minute;
- the sign-in is still valid: each request still looks its session up, as every
  request does, so a session revoked, expired or idle too long is refused at once;
- nothing was written to the database since the page was drawn:
  the data stamp (``workflow.db.stamp_column``), read by the same statement as the
  session, is the same (any commit that wrote moves it, from any process: pages, API,
  command line, scheduler, dispatcher, SQL typed by hand).

A page is kept only when it answered 200 with HTML and set no cookie, and when the
request carried no note of a refused form (``web.flash``). The API, files and exports,
sign-in and password pages are never kept. ``[web] page_cache_mb`` bounds the memory
each worker gives it; 0 turns it off.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web import flash
from web.metrics import PAGES
from web.portal import portal_of
from web.viewer import stamped_viewer

#: Paths never kept: data for programs, files, and pages that hold a secret in their
#: address or check a password.
NEVER = ("/api/", "/static/", "/login", "/logout", "/invitation/", "/password/")
#: A page larger than this share of the cache is not kept.
LARGEST_SHARE = 8


@dataclass(frozen=True)
class Kept:
    stamp: str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    #: Bytes it holds, with its key's (the request's headers can be most of a small page).
    size: int = 0


Key = tuple[object, ...]


class Pages:
    """The kept pages of one worker, least recently sent first out."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self.entries: OrderedDict[Key, Kept] = OrderedDict()

    def get(self, key: Key, stamp: str) -> Kept | None:
        found = self.entries.get(key)
        if found is None:
            return None
        if found.stamp != stamp:
            self._drop(key)
            return None
        self.entries.move_to_end(key)
        return found

    def put(self, key: Key, kept: Kept) -> None:
        size = kept.size or len(kept.body)
        if size > self.max_bytes // LARGEST_SHARE:
            return
        if key in self.entries:
            self._drop(key)
        self.entries[key] = replace(kept, size=size)
        self.used += size
        while self.used > self.max_bytes:
            self._drop(next(iter(self.entries)))

    def _drop(self, key: Key) -> None:
        self.used -= self.entries.pop(key).size


def _wanted(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "GET":
        return False
    path: str = scope["path"]
    return not path.startswith(NEVER)


class PageCache:
    """The middleware (plain ASGI, inside ``web.viewer.SessionCookie``, which it needs)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.pages = Pages(max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.pages.max_bytes <= 0 or not _wanted(scope):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if flash.COOKIE in request.cookies:
            PAGES.labels("pass").inc()
            await self.app(scope, receive, send)
            return
        try:
            who = stamped_viewer(request, stamp=True)
        except Exception:  # the page's own lookup will say what is wrong, as usual
            PAGES.labels("pass").inc()
            await self.app(scope, receive, send)
            return
        stamp: str | None = getattr(request.state, "data_stamp", None)
        if not who.signed_in or stamp is None or request.state.session_changed:
            PAGES.labels("pass").inc()
            await self.app(scope, receive, send)
            return
        minute = int(portal_of(request).now().timestamp() // 60)
        client = scope.get("client")
        key: Key = (
            scope["path"],
            scope["query_string"],
            scope.get("root_path", ""),
            tuple(scope["headers"]),
            client[0] if client else "",
            minute,
        )
        kept = self.pages.get(key, stamp)
        if kept is not None:
            PAGES.labels("hit").inc()
            await send({"type": "http.response.start", "status": 200, "headers": kept.headers})
            await send({"type": "http.response.body", "body": kept.body})
            return
        await self._draw(request, key, stamp, receive, send)

    async def _draw(
        self, request: Request, key: Key, stamp: str, receive: Receive, send: Send
    ) -> None:
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        keep = False

        async def sending(message: Message) -> None:
            nonlocal headers, keep
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                keep = message["status"] == 200 and _html_without_cookie(headers)
                if not keep:
                    PAGES.labels("pass").inc()
            elif message["type"] == "http.response.body" and keep:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    # Kept (and counted) before the last part leaves: whoever reads the
                    # answer then finds the page kept already.
                    if request.state.session_changed:
                        PAGES.labels("pass").inc()
                    else:
                        PAGES.labels("miss").inc()
                        body = b"".join(chunks)
                        held = (*headers, *request.scope["headers"])
                        size = len(body) + sum(len(n) + len(v) for n, v in held)
                        self.pages.put(key, Kept(stamp, headers, body, size))
            await send(message)

        await self.app(request.scope, receive, sending)


def _html_without_cookie(headers: list[tuple[bytes, bytes]]) -> bool:
    html = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"set-cookie":
            return False
        if lowered == b"content-type":
            html = value.startswith(b"text/html")
    return html
