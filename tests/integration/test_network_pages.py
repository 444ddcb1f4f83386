"""The public directory and the statistics page over HTTP, on the real portal: no
sign-in for the directory, French words and country names on a French page, CSV and
JSON that agree, nothing private; the statistics for the Institute only, with charts
that load nothing from outside. SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from tests.e2e.clients import visitor
from tests.e2e.live import Live, live_portal
from workflow import statistics as stats
from workflow.actors import Actor
from workflow.db import transaction
from workflow.directory_views import directory
from workflow.services import directory as places
from workflow.services import memberships
from workflow.states import Role

START = datetime(2027, 3, 10, 9, tzinfo=UTC)
ADMIN = Actor(Role.ADMIN, "test admin")
PRIVATE = ("@example", "Mayor", "focal point", "Ms ", "+33")


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(db_url, tmp_path, START) as portal:
        with transaction(portal.factory) as session:
            for name, state, website in (
                ("Grenoble", "removed", "https://grenoble.example"),
                ("Rennes", "withdrawn", "https://rennes.example"),
                ("Dijon", "inactive", "javascript:alert(1)"),
                ("Lille", "overdue", "www.lille.example"),
            ):
                city = places.upsert_city(
                    session,
                    ADMIN,
                    country_code="FR",
                    name=name,
                    contact_email=f"{name.lower()}@example.org",
                    mayor_name=f"Mayor of {name}",
                    contact_name="Ms Secret",
                    contact_phone="+33 1 00 00 00 00",
                    website=website,
                    now=START,
                )
                member = memberships.import_member(
                    session, portal.settings, ADMIN, city, admitted_on=date(2021, 9, 1), now=START
                )
                member.state = state
        yield portal


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_directory_is_public_french_and_private_data_free(live: Live) -> None:
    with transaction(live.factory) as session:
        expected = directory(session)
    cities = {e.city for e in expected}
    assert {"Dijon", "Lille", "Valmiera"} <= cities
    assert not {"Grenoble", "Rennes"} & cities
    with httpx.Client(base_url=live.url, headers={"Accept-Language": "fr"}) as anonymous:
        page = anonymous.get("/directory")
        assert page.status_code == 200
        words = _text(page.text)
        assert "Villes membres du réseau" in words and "Europe et Amérique du Nord" in words
        assert "Lettonie" in words and "France" in words and "Latvia" not in words
        for city in cities:
            assert city in words
        assert "Grenoble" not in words and "Rennes" not in words
        assert not any(secret in page.text for secret in PRIVATE)
        assert 'href="javascript:' not in page.text
        assert 'href="https://www.lille.example"' in page.text
        login = anonymous.get("/login")
        assert 'href="/directory"' in login.text
        # filters: region and country; a wrong one is said in French, not English
        only = anonymous.get("/directory", params={"country": "LV"})
        assert "Valmiera" in only.text and "Lille" not in only.text
        wrong = anonymous.get("/directory", params={"region": "mars"})
        assert wrong.status_code == 200 and 'role="alert"' in wrong.text
        assert "Region" not in _text(wrong.text).replace("Région", "")
        found = anonymous.get("/directory.csv")
        assert found.headers["content-type"].startswith("text/csv")
        table = list(csv.reader(io.StringIO(found.text.lstrip("\ufeff"))))
        data = anonymous.get("/directory.json").json()
        api = anonymous.get("/api/v1/directory", params={"lang": "fr"}).json()
    assert table[0][:2] == ["Ville", "Pays"]
    assert api == data
    assert [(r["city"], r["country_code"], r["admission_year"], r["website"]) for r in data] == [
        (e.city, e.country_code, e.admission_year, e.website) for e in expected
    ]
    assert [row[0] for row in table[1:]] == [r["city"] for r in data]
    assert {r["country"] for r in data if r["country_code"] == "LV"} == {"Lettonie"}
    assert {r["region_name"] for r in data} == {"Europe et Amérique du Nord"}
    assert set(data[0]) == {
        "city", "country_code", "country", "region", "region_name", "admission_year", "website",
    }  # fmt: skip
    assert not any(secret in found.text for secret in PRIVATE)


def test_statistics_for_the_institute_only(live: Live) -> None:
    with httpx.Client(base_url=live.url) as anonymous:
        assert anonymous.get("/statistics").status_code in (303, 307, 401)
        assert anonymous.get("/api/v1/statistics").status_code == 401
    city = visitor(live.url, "valmiera@example.org")
    try:
        assert city.pages.get("/statistics").status_code == 403
        assert city.api.get("/api/v1/statistics").status_code == 403
    finally:
        city.close()
    institute = visitor(live.url, "institute@example.org")
    try:
        page = institute.pages.get("/statistics")
        assert page.status_code == 200
        assert 'href="/statistics"' in page.text  # in the menu
        for name in ("growth", "compliance"):  # the small demo has no application yet
            assert f'src="/statistics/chart/{name}.svg?lang=en"' in page.text
        assert "Nothing to show yet." in page.text
        for name in ("growth", "outcomes", "endorsements", "compliance"):
            chart = institute.pages.get(f"/statistics/chart/{name}.svg", params={"lang": "fr"})
            assert chart.status_code == 200
            assert chart.headers["content-type"].startswith("image/svg+xml")
            assert "<script" not in chart.text and 'xlink:href="http' not in chart.text
        growth = institute.pages.get("/statistics/chart/growth.svg?lang=fr").text
        assert "Europe et Amérique du Nord" in growth
        assert institute.pages.get("/statistics/chart/nope.svg").status_code == 404
        data = institute.api.get("/api/v1/statistics").json()
        with transaction(live.factory) as session:
            actor = Actor(Role.INSTITUTE, "UIL")
            expected = stats.statistics(session, actor, START.date()).as_json()
        assert data == expected
        # the numbers of the page's tables are the domain's
        last = {r: c[-1] for r, c in expected["growth"]["by_region"].items()}
        assert last["europe_north_america"] >= 3  # Valmiera, Dijon, Lille at least
        words = _text(page.text)
        assert "Members by region over the years" in words
        assert "Reporting compliance per cycle" in words
    finally:
        institute.close()
