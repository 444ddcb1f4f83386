"""The lists of a working day: search, filters, sort, pages and CSV on the portal, with the
API and the CLI on the same filter; the city's home page (the call, what needs it, past
and future due dates); "messages sent to me" and who may read them. SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from cli.main import app as gnlc
from config.paths import uploads_folder
from notifications.models import OutboxMessage
from tests.conftest import SIGNED_PDF
from tests.e2e.clients import Visitor, visitor
from tests.e2e.live import Live, live_portal
from web import actions, templating
from workflow.actors import Actor
from workflow.db import transaction
from workflow.models import Application, City, Membership
from workflow.services import applications as apps
from workflow.services import directory, memberships, users
from workflow.states import Role
from workflow.uploads import store_signed_form

START = datetime(2027, 3, 10, 9, tzinfo=UTC)
PEOPLE = {
    "jelgava": "jelgava@example.org",
    "valmiera": "valmiera@example.org",
    "lyon": "lyon@example.org",
    "commission": "commission.lv@example.org",
    "institute": "institute@example.org",
}
EVIL = '=HYPERLINK("http://x")'
ROW = re.compile(r'<td data-label="[^"]*"><a href="/applications/(\d+)">#')


@dataclass
class Setting:
    live: Live
    cli: CliRunner
    people: dict[str, Visitor]

    def actor(self, key: str) -> Actor:
        with self.live.factory() as session:
            return users.actor_for(users.user_by_email(session, PEOPLE[key]))


def _populate(live: Live) -> None:
    """55 Latvian applications (more than a page), one with a formula for a name; a few
    members admitted in 2019 and 2021."""
    with transaction(live.factory) as session:
        admin = users.actor_for(users.user_by_email(session, "admin@example.org"))
        for n in range(55):
            name = EVIL if n == 7 else f"Pilsēta {n:03d}"
            city = directory.upsert_city(
                session,
                admin,
                country_code="LV",
                name=name,
                contact_email=f"town{n}@example.lv",
                now=START,
            )
            actor = Actor(Role.CITY, city.name, city_id=city.id, country_code="LV")
            apps.create_draft(session, live.settings, actor, now=START, motivation="Ours.")
        for n, year in enumerate((2019, 2019, 2021)):
            member = directory.upsert_city(
                session,
                admin,
                country_code="LV",
                name=f"Biedrs {n}",
                contact_email=f"member{n}@example.lv",
                now=START,
            )
            memberships.import_member(
                session, live.settings, admin, member, admitted_on=date(year, 5, 1), now=START
            )
    with transaction(live.factory) as session:
        drafts = list(
            session.scalars(
                select(Application.id)
                .join(City, Application.city_id == City.id)
                .where(City.name.like("Pilsēta%"))
                .order_by(Application.id)
            )
        )
        session.execute(
            update(Application).where(Application.id.in_(drafts[::3])).values(state="submitted")
        )


@pytest.fixture
def setting(db_url: str, tmp_path: Path) -> Iterator[Setting]:
    with live_portal(db_url, tmp_path, START) as live:
        _populate(live)
        runner = CliRunner(
            env={"GNLC_DATABASE__URL": db_url, "GNLC_MAIL__MAILDIR": str(tmp_path / "mail")}
        )
        people = {key: visitor(live.url, email) for key, email in PEOPLE.items()}
        yield Setting(live, runner, people)
        for person in people.values():
            person.close()


def ids_on(html: str) -> list[int]:
    return [int(i) for i in ROW.findall(html)]


def every_page(person: Visitor, query: str) -> list[int]:
    """The ids of every page of /applications for ``query``, following the pager's links
    (which must keep the query)."""
    found: list[int] = []
    path: str | None = f"/applications?{query}"
    while path:
        response = person.pages.get(path)
        assert response.status_code == 200, response.text[:300]
        found.extend(ids_on(response.text))
        after = re.search(r'<a href="([^"]+)" rel="next"', response.text)
        path = after.group(1).replace("&amp;", "&") if after else None
        if path:
            for part in query.split("&"):
                assert part in path, (part, path)  # the pager keeps the filter
    return found


def csv_rows(person: Visitor, path: str) -> list[list[str]]:
    response = person.pages.get(path)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())  # Excel reads UTF-8
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_search_filter_sort_pages_and_csv_agree_and_stay_in_scope(setting: Setting) -> None:
    institute = setting.people["institute"]
    with setting.live.factory() as session:
        names = dict(
            session.execute(
                select(Application.id, City.name).join(City, Application.city_id == City.id)
            ).all()
        )
        states = dict(session.execute(select(Application.id, Application.state)).all())
    # Search by part of the city's name, whatever the case; the pager keeps it.
    found = every_page(institute, "q=PILS%C4%92TA&sort=city")
    assert len(found) == 54  # 55 minus the one named with a formula
    assert [names[i] for i in found] == sorted(names[i] for i in found)
    # A filter and a reversed sort; aria-sort says which column and which way.
    page = institute.pages.get("/applications", params={"state": "submitted", "sort": "-city"})
    shown = ids_on(page.text)
    assert shown and all(states[i] == "submitted" for i in shown)
    assert [names[i] for i in shown] == sorted((names[i] for i in shown), reverse=True)
    assert 'aria-sort="descending"' in page.text
    # The API and the CLI read the same filter object: the same rows in the same order.
    api = institute.api.get(
        "/api/v1/applications", params={"state": "submitted", "sort": "-city", "limit": 1000}
    )
    assert [r["id"] for r in api.json()] == shown
    cli = setting.cli.invoke(
        gnlc,
        ["app", "list", "--as", PEOPLE["institute"], "--state", "submitted", "--sort", "-city",
         "--json"],
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    assert [r["id"] for r in json.loads(cli.output)] == shown
    # CSV: exactly what the filter shows, every page of it, a formula made harmless.
    everything = every_page(institute, "country=LV&sort=number")
    rows = csv_rows(institute, "/applications.csv?country=LV&sort=number")
    assert [int(r[0]) for r in rows[1:]] == everything
    assert rows[0][:2] == ["No.", "City"]
    assert [r[1] for r in rows[1:] if "HYPERLINK" in r[1]] == ["'" + EVIL]
    same = csv_rows(institute, "/applications?country=LV&sort=number&format=csv")
    assert same == rows
    # Scoped to the actor: the Commission sees its country, a city itself, whatever asked.
    france = setting.people["commission"].pages.get("/applications.csv?country=FR")
    assert france.status_code == 400  # France is not the Commission's to filter by
    assert "text/html" in france.headers["content-type"]
    assert "is not one of this list" in france.text and "Lyon" not in france.text
    lyon = csv_rows(setting.people["lyon"], "/applications.csv")
    assert {r[2] for r in lyon[1:]} <= {"FR"}
    lv = csv_rows(setting.people["commission"], "/applications.csv")
    assert len(lv) > 50 and {r[2] for r in lv[1:]} == {"LV"}


def test_a_wrong_filter_is_said_in_the_readers_language(setting: Setting) -> None:
    person = setting.people["institute"]
    english = person.pages.get("/applications", params={"page": "abc", "state": "nonsense"})
    assert english.status_code == 400
    assert "Input should be" not in english.text and "query.page" not in english.text
    assert "“abc” is not a valid number" in english.text or "nonsense" in english.text
    person.post_form("/language", {"lang": "fr", "next": "/"})
    french = person.pages.get("/members", params={"year": "20x7"})
    assert french.status_code == 400
    assert "n'est pas un nombre valable" in html.unescape(french.text)
    assert "Année" in french.text and "Input should be" not in french.text
    sort = person.pages.get("/reports", params={"sort": "password"})
    assert "ne fait pas partie des choix" in html.unescape(sort.text)
    # The API keeps its own, machine-readable refusal.
    assert person.api.get("/api/v1/applications", params={"sort": "nope"}).status_code == 422


def test_member_and_report_lists_filter_sort_and_export(setting: Setting) -> None:
    institute = setting.people["institute"]
    page = institute.pages.get("/members", params={"q": "biedrs", "year": "2019"})
    member_ids = [int(i) for i in re.findall(r'href="/members/(\d+)"', page.text)]
    with setting.live.factory() as session:
        years = dict(session.execute(select(Membership.id, Membership.admission_year)).all())
    assert len(member_ids) == 2 and {years[i] for i in member_ids} == {2019}
    rows = csv_rows(institute, "/members.csv?q=biedrs&sort=-admitted")
    assert [r[0] for r in rows[1:]] == ["Biedrs 2", "Biedrs 0", "Biedrs 1"] or [
        r[0] for r in rows[1:]
    ] == ["Biedrs 2", "Biedrs 1", "Biedrs 0"]
    api = institute.api.get("/api/v1/members", params={"q": "biedrs", "year": 2019})
    assert sorted(r["id"] for r in api.json()) == sorted(member_ids)
    # A Commission's member export is its country's; a city's its own membership.
    valmiera = csv_rows(setting.people["valmiera"], "/members.csv")
    assert [r[0] for r in valmiera[1:]] == ["Valmiera"]
    # Reports: the queue by default, every state on request, as CSV.
    every = institute.pages.get("/reports", params={"state": "", "q": "valmiera"})
    assert every.status_code == 200 and "/reports/" in every.text
    reports = csv_rows(institute, "/reports.csv?state=&q=valmiera&sort=due")
    dues = [r[3] for r in reports[1:]]
    assert dues == sorted(dues) and "2026-03-31" in dues
    assert setting.people["commission"].pages.get("/reports.csv").status_code == 403


def test_valmiera_sees_the_call_its_2028_report_and_past_dates_apart(setting: Setting) -> None:
    # The 2028 report opens 120 days ahead: as the sweep would have by December 2027.
    with transaction(setting.live.factory) as session:
        city = session.scalars(select(City).where(City.name == "Valmiera")).one()
        member = session.scalars(select(Membership).where(Membership.city_id == city.id)).one()
        memberships.ensure_reports(
            session, setting.live.settings, member, today=date(2027, 12, 15), now=START
        )
    home = setting.people["valmiera"].pages.get("/")
    assert home.status_code == 200
    text = home.text
    upcoming = text[text.index('class="dates upcoming"') :].split("</ul>")[0]
    past = text[text.index('class="dates past"') :].split("</ul>")[0]
    assert 'datetime="2028-03-31"' in upcoming
    assert "2026-03-31" not in upcoming and 'datetime="2026-03-31"' in past
    assert 'datetime="2018-03-31"' in past and "2028" not in past
    # the open call, its window and its timezone; the open 2028 report needs attention
    assert "is open from" in text and "time zone" in text
    assert "progress report is open" in text
    # the member's page lists its next due dates too, not the first five since 2016
    member_page = setting.people["valmiera"].pages.get(f"/members/{member.id}").text
    dates = member_page[member_page.index("<ul>", member_page.index("Due dates")) :]
    dates = dates[: dates.index("</ul>")]
    assert "Mar 31, 2028" in dates and "2018" not in dates


def test_a_returned_application_and_its_comment_stand_on_the_city_home(
    setting: Setting,
) -> None:
    jelgava, commission = setting.actor("jelgava"), setting.actor("commission")
    live = setting.live
    with transaction(live.factory) as session:
        app = apps.create_draft(
            session,
            live.settings,
            jelgava,
            now=START,
            motivation="Learning for all ages in every district.",
            implementation_plan="Map providers; open learning festivals; monitor yearly.",
            challenges=dict.fromkeys(apps.CHALLENGES, 3),
            signed_by="The Mayor",
        )
        app_id = app.id
    with transaction(live.factory) as session:
        store_signed_form(
            session,
            live.settings,
            jelgava,
            app_id,
            filename="signed-form.pdf",
            data=SIGNED_PDF,
            folder=uploads_folder(live.settings),
            now=START,
        )
    with transaction(live.factory) as session:
        actions.act_on_application(session, live.settings, jelgava, app_id, "submit", now=START)
    with transaction(live.factory) as session:
        actions.act_on_application(
            session,
            live.settings,
            commission,
            app_id,
            "return_to_city",
            now=START,
            comment="Please name the partners of the festival.",
        )
    home = setting.people["jelgava"].pages.get("/").text
    assert f'href="/applications/{app_id}"' in home
    assert "was returned for changes" in home
    assert "Please name the partners of the festival." in home
    # The messages the workflow sent: the city reads those to its contact address...
    mine = setting.people["jelgava"].pages.get("/messages").text
    with live.factory() as session:
        outbox = list(session.scalars(select(OutboxMessage)))
    to_city = [m for m in outbox if m.recipient == "jelgava.lv@demo.example.org"]
    to_office = [m for m in outbox if m.recipient == "office.lv@demo.example.org"]
    assert to_city and to_office
    for message in to_city:
        assert f'href="/messages/{message.id}"' in mine
    for message in to_office:
        assert f'href="/messages/{message.id}"' not in mine
    opened = setting.people["jelgava"].pages.get(f"/messages/{to_city[0].id}")
    assert opened.status_code == 200 and to_city[0].subject.split()[0] in opened.text
    assert "Please name the partners" in "".join(
        setting.people["jelgava"].pages.get(f"/messages/{m.id}").text for m in to_city
    )
    # ...the Commission those to its address; another city reads none of them.
    office = setting.people["commission"].pages.get("/messages").text
    assert all(f'href="/messages/{m.id}"' in office for m in to_office)
    assert f'href="/messages/{to_city[0].id}"' not in office
    lyon = setting.people["lyon"]
    assert lyon.pages.get(f"/messages/{to_city[0].id}").status_code == 404
    assert f'href="/messages/{to_city[0].id}"' not in lyon.pages.get("/messages").text
    # the city's home shows the latest few
    assert "/messages/" in home


def test_country_filter_offers_every_country_and_keeps_the_choice(setting: Setting) -> None:
    institute = setting.people["institute"]  # an English-speaking account
    page = institute.pages.get("/members", params={"country": "LV"})
    assert page.status_code == 200
    form = page.text[page.text.index('id="f-country"') :]
    form = form[: form.index("</select>")]
    options = re.findall(r'<option value="(\w*)"( selected)?>([^<]+)</option>', form)
    assert options == [
        ("", "", "All"), ("EE", "", "Estonia"), ("FR", "", "France"),
        ("LV", " selected", "Latvia"),
    ]  # fmt: skip
    unfiltered = institute.pages.get("/members").text
    assert '<option value="LV">Latvia</option>' in unfiltered
    assert "selected>Latvia" not in unfiltered


def test_country_options_are_in_the_pages_language() -> None:
    assert templating._country_options("fr", ("EE", "LV"), "LV") == (
        '<option value="EE">Estonie</option><option value="LV" selected>Lettonie</option>'
    )
    assert templating._country_options("ru", ("LV",), "") == '<option value="LV">Латвия</option>'
