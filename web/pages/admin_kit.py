"""What the administrator's pages share (users, cities, outbox): the form as text, a
page of a long list with links that keep its filters. Not a page module (no router)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from web import flash
from web.templating import said
from workflow.errors import WorkflowError
from workflow.views import PER_PAGE, Page, page_of


def strings(form: FormData) -> dict[str, str]:
    """The form's text fields (what a refused form keeps)."""
    return {k: v for k, v in form.items() if isinstance(v, str)}


def refused(
    request: Request, exc: WorkflowError, path: str, values: Mapping[str, str] | None = None
) -> Response:
    """A refused form back on ``path`` with its input (Post-Redirect-Get). Who may not
    (403) or asks for what is not there (404) gets the error page instead: the form's
    page would not open for them either."""
    if exc.status in (403, 404):
        raise exc
    return flash.back(request, path, error=said(request, exc), values=values)


def whole(value: str) -> int | None:
    """A number typed or chosen in a form, or None when blank or not a number."""
    value = value.strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


@dataclass(frozen=True)
class Paged:
    """One page of a filtered list, with the links to its neighbours (filters kept)."""

    page: Page
    previous: str | None
    next: str | None

    @property
    def offset(self) -> int:
        return self.page.offset


def paged(request: Request, number: int, total: int, size: int = PER_PAGE) -> Paged:
    page = page_of(number, total, size)
    query = {k: v for k, v in request.query_params.items() if k not in ("page", "done")}

    def link(n: int) -> str:
        return f"{request.url.path}?{urlencode({**query, 'page': n})}"

    return Paged(
        page,
        link(page.number - 1) if page.number > 1 else None,
        link(page.number + 1) if page.number < page.last else None,
    )
