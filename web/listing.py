"""The portal's lists: their query string (search, filters, sort, page), said back in
plain words when a value is wrong, and their CSV export.

A list page reads its query with :func:`read` against the choices it offers; a value it
does not offer is dropped and named in the page's alert in the reader's language (never
"query.page: Input should be..."). The filter object itself (``workflow.views``,
``workflow.member_views``) is the domain's: the API and the CLI build the same one.
``?format=csv`` exports exactly the rows the filter shows, scoped to the actor.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from web.i18n import english
from workflow.errors import InvalidInput

#: The query parameters of a list, in the order its links write them.
PARAMS = ("q", "state", "country", "call", "year", "sort")
#: The most rows a CSV export holds.
CSV_LIMIT = 20_000
_SEARCH_MAX = 100


class FilterRefused(InvalidInput):
    """A list's query names a value the list does not offer (``why``: ``choice``) or is
    not a number (``number``); ``params["field"]`` is the message id of its label."""

    def __init__(self, why: str, field: str, value: str) -> None:
        shown = value[:40]
        super().__init__(
            english(f"refusal.invalid_input.filter_{why}", field=english(field), value=shown)
        )
        self.why = why
        self.params = {"field": field, "value": shown}

    @property
    def reason(self) -> str:
        return f"{self.code}.filter_{self.why}"


@dataclass(frozen=True)
class Choices:
    """What a list offers: its states, sort keys, countries and calls (empty: any)."""

    states: Collection[str]
    sorts: Collection[str]
    countries: Collection[str] = ()
    calls: Collection[str] = ()


@dataclass
class Listing:
    """A list's query string, cleaned: what the filter form, the sort links, the pager and
    the CSV link show."""

    path: str
    values: dict[str, str] = field(default_factory=dict)
    page: int = 1
    csv: bool = False
    problem: FilterRefused | None = None

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def text(self, name: str) -> str | None:
        return self.values.get(name) or None

    @property
    def year(self) -> int | None:
        return int(self.values["year"]) if self.values.get("year") else None

    @property
    def filtered(self) -> bool:
        return any(self.values.get(name) for name in PARAMS if name != "sort")

    def url(self, **changes: object) -> str:
        """This list's address with ``changes`` (page 1 unless a page is given)."""
        values: dict[str, object] = {**self.values, **changes}
        pairs = []
        for name in (*PARAMS, "page", "format"):
            value = values.get(name)
            if value is None or (name == "page" and value == 1):
                continue
            if value == "" and name != "state":  # "state=": every state, said on purpose
                continue
            pairs.append((name, str(value)))
        return f"{self.path}?{urlencode(pairs)}" if pairs else self.path

    def csv_url(self) -> str:
        return self.url(format="csv")

    def sort_url(self, key: str) -> str:
        """Sort by ``key``; a second click on the sorted column reverses it."""
        return self.url(sort=f"-{key}" if self.get("sort") == key else key)

    def aria_sort(self, key: str) -> str:
        sort = self.get("sort")
        if sort == key:
            return "ascending"
        if sort == f"-{key}":
            return "descending"
        return ""


def _number(raw: str, label: str, low: int, high: int) -> int:
    value = raw.strip()
    if not value.isdigit() or not low <= int(value) <= high:
        raise FilterRefused("number", label, raw)
    return int(value)


def read(request: Request, choices: Choices, *, default_state: str | None = None) -> Listing:
    """The list's query, checked against ``choices``: a wrong value is dropped and said."""
    query = request.query_params
    listing = Listing(path=request.url.path, csv=query.get("format") == "csv")
    problems: list[FilterRefused] = []
    search = " ".join(query.get("q", "").split())[:_SEARCH_MAX]
    if search:
        listing.values["q"] = search
    checks: Sequence[tuple[str, str, Collection[str], bool]] = (
        ("state", "col.state", choices.states, False),
        ("country", "col.country", choices.countries, True),
        ("call", "col.call", choices.calls, False),
    )
    for name, label, allowed, upper in checks:
        raw = query.get(name, "").strip()
        value = raw.upper() if upper else raw
        if value and allowed and value not in allowed:
            problems.append(FilterRefused("choice", label, raw))
        elif value:
            listing.values[name] = value
    if "state" not in query and default_state:
        listing.values["state"] = default_state
    elif "state" in query and not listing.values.get("state"):
        listing.values["state"] = ""  # "every state", said on purpose
    sort = query.get("sort", "").strip()
    if sort and sort.removeprefix("-") not in choices.sorts:
        problems.append(FilterRefused("choice", "list.sort", sort))
    elif sort:
        listing.values["sort"] = sort
    for name, label, low, high in (("year", "col.year", 1900, 2200),
                                   ("page", "list.page", 1, 10_000_000)):  # fmt: skip
        raw = query.get(name, "")
        if not raw.strip():
            continue
        try:
            number = _number(raw, label, low, high)
        except FilterRefused as refused:
            problems.append(refused)
            continue
        if name == "year":
            listing.values["year"] = str(number)
        else:
            listing.page = number
    listing.problem = problems[0] if problems else None
    return listing


def _cell(value: object) -> str:
    """One CSV cell: text a spreadsheet would run as a formula is quoted with ``'``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    """``rows`` as a CSV download: UTF-8 with a BOM (so Excel reads French and Latvian),
    every cell quoted where it must be, no cell a spreadsheet would run as a formula."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([_cell(h) for h in header])
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
