"""The CSV export's cells and the lists' links, without a database."""

from __future__ import annotations

import csv
import io
from datetime import date

from web.listing import Listing, csv_response


def _read(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_cells_a_spreadsheet_would_run_are_quoted_and_others_kept() -> None:
    rows: list[list[object]] = [
        ["=1+2", "+33 1 23", "-5", "@SUM(A1)", "\tx"],
        ['Jelgava, "LV"', "two\nlines", "Cēsis", date(2028, 3, 31), None],
    ]
    body = csv_response("x", ["a", "b", "c", "d", "e"], rows).body
    found = _read(bytes(body))
    assert found[1] == ["'=1+2", "'+33 1 23", "'-5", "'@SUM(A1)", "'\tx"]
    assert found[2] == ['Jelgava, "LV"', "two\nlines", "Cēsis", "2028-03-31", ""]


def test_links_keep_the_query_and_a_second_click_reverses_the_sort() -> None:
    shown = Listing("/members", {"q": "Cēsis", "state": "overdue", "sort": "city"}, page=3)
    assert shown.url(page=2) == "/members?q=C%C4%93sis&state=overdue&sort=city&page=2"
    assert shown.sort_url("city").endswith("sort=-city")  # and page 1 again
    assert "page=" not in shown.sort_url("city")
    assert shown.aria_sort("city") == "ascending" and shown.aria_sort("state") == ""
    assert shown.csv_url().endswith("&format=csv")
    every = Listing("/reports", {"state": ""})
    assert every.url() == "/reports?state="  # "every state", not the default queue
