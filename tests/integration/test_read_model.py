"""One read model: the pages, the API and the command line list the same rows, in the
same order, for the same person, on SQLite and PostgreSQL.

The demo world plus 60 Latvian applications in mixed states and 60 Latvian members in
mixed standings (more than a page of 50 for the Commission, the Institute and the
administrator), a dozen reports waiting for review. Each person reads every page of the
portal's list (HTML, through the live portal), every page of the API's list (JSON, by
limit and offset) and the command line's ``--json`` list, and the ids must agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from cli.main import app as gnlc
from tests.e2e.clients import Visitor, visitor
from tests.e2e.live import Live, live_portal
from workflow.actors import Actor
from workflow.db import transaction
from workflow.models import Application, Membership, Report
from workflow.services import applications as apps
from workflow.services import directory, memberships, users
from workflow.states import Role

START = datetime(2027, 3, 10, 9, tzinfo=UTC)
PEOPLE = {
    "city": "jelgava@example.org",
    "commission": "commission.lv@example.org",
    "institute": "institute@example.org",
    "admin": "admin@example.org",
}
SIZE = 50  # the portal's page; the API and the CLI are paged by the same size here


@dataclass
class Setting:
    live: Live
    cli: CliRunner
    people: dict[str, Visitor]


def _populate(live: Live) -> None:
    """Applications and members enough for two pages, in states that reorder them."""
    with transaction(live.factory) as session:
        admin = users.actor_for(users.user_by_email(session, PEOPLE["admin"]))
        jelgava = users.actor_for(users.user_by_email(session, PEOPLE["city"]))
        apps.create_draft(session, live.settings, jelgava, now=START, motivation="Ours.")
        for n in range(60):
            city = directory.upsert_city(
                session,
                admin,
                country_code="LV",
                name=f"Pilsēta {n:03d}",
                contact_email=f"town{n}@example.lv",
                contact_name="Focal point",
                mayor_name="Mayor",
                mayor_title="Mayor",
                now=START,
            )
            actor = Actor(Role.CITY, city.name, city_id=city.id, country_code="LV")
            apps.create_draft(
                session,
                live.settings,
                actor,
                now=START,
                motivation="Learning for all.",
                implementation_plan="A plan.",
                challenges=dict.fromkeys(apps.CHALLENGES, 2),
                signed_by="The Mayor",
            )
            member = directory.upsert_city(
                session,
                admin,
                country_code="LV",
                name=f"Biedrs {59 - n:03d}",  # names against the order of the ids
                contact_email=f"member{n}@example.lv",
                now=START,
            )
            memberships.import_member(
                session, live.settings, admin, member, admitted_on=date(2019, 5, 1), now=START
            )
    with transaction(live.factory) as session:
        new = list(
            session.scalars(
                select(Application.id).where(Application.state == "draft").order_by(Application.id)
            )
        )
        for ids, state in ((new[::3], "submitted"), (new[1::7], "forwarded")):
            session.execute(update(Application).where(Application.id.in_(ids)).values(state=state))
        members = list(
            session.scalars(
                select(Membership.id).where(Membership.state == "active").order_by(Membership.id)
            )
        )
        for ids, state in ((members[::4], "overdue"), (members[1::9], "inactive")):
            session.execute(update(Membership).where(Membership.id.in_(ids)).values(state=state))
        for n, membership_id in enumerate(members[2:50:4]):
            session.add(
                Report(
                    membership_id=membership_id,
                    due_on=date(2026, 3, 31),
                    state="submitted",
                    summary="Done.",
                    submitted_at=START - timedelta(hours=(n * 7) % 12),
                    created_at=START,
                )
            )


@pytest.fixture
def setting(db_url: str, tmp_path: Path) -> Iterator[Setting]:
    with live_portal(db_url, tmp_path, START) as live:
        _populate(live)
        runner = CliRunner(
            env={"GNLC_DATABASE__URL": db_url, "GNLC_MAIL__MAILDIR": str(tmp_path / "mail")}
        )
        people = {role: visitor(live.url, email) for role, email in PEOPLE.items()}
        yield Setting(live, runner, people)
        for person in people.values():
            person.close()


def page_ids(person: Visitor, path: str, link: str) -> list[int]:
    """Every page of a portal list, read until the pager stops (it clamps to the last)."""
    pattern = re.compile(rf'href="/{link}/(\d+)"')
    found: list[int] = []
    last: list[int] | None = None
    for number in range(1, 20):
        response = person.pages.get(path, params={"page": number})
        assert response.status_code == 200, response.text[:300]
        ids = list(dict.fromkeys(int(i) for i in pattern.findall(response.text)))
        if ids == last or not ids:
            return found
        assert len(ids) <= SIZE
        found.extend(ids)
        last = ids
    raise AssertionError("more pages than expected")


def api_ids(person: Visitor, path: str, **params: str) -> list[int]:
    found: list[int] = []
    for offset in range(0, 10_000, SIZE):
        response = person.api.get(path, params={**params, "limit": SIZE, "offset": offset})
        assert response.status_code == 200, response.text[:300]
        ids = [row["id"] for row in response.json()]
        found.extend(ids)
        if len(ids) < SIZE:
            return found
    raise AssertionError("more pages than expected")


def cli_ids(runner: CliRunner, *args: str) -> list[int]:
    result = runner.invoke(gnlc, [*args, "--json"])
    assert result.exit_code == 0, (args, result.output)
    return [row["id"] for row in json.loads(result.output)]


def cli_pages(runner: CliRunner, *args: str) -> list[int]:
    found: list[int] = []
    for offset in range(0, 10_000, SIZE):
        ids = cli_ids(runner, *args, "--limit", str(SIZE), "--offset", str(offset))
        found.extend(ids)
        if len(ids) < SIZE:
            return found
    raise AssertionError("more pages than expected")


def test_pages_api_and_cli_list_the_same_applications(setting: Setting) -> None:
    for role in PEOPLE:
        _same_applications(setting, role)


def _same_applications(setting: Setting, role: str) -> None:
    person, who = setting.people[role], PEOPLE[role]
    waiting = page_ids(person, "/applications", "applications")
    assert waiting, "every person here sees some applications"
    if role != "city":
        assert len(waiting) > SIZE  # the second page matters
    # What waits for the person first: the portal's order, offered by API and CLI.
    assert api_ids(person, "/api/v1/applications", order="waiting") == waiting
    assert cli_ids(setting.cli, "app", "list", "--as", who, "--order", "waiting") == waiting
    assert cli_pages(setting.cli, "app", "list", "--as", who, "--order", "waiting") == waiting
    # Newest first: the API's and the CLI's default, the same rows.
    newest = api_ids(person, "/api/v1/applications")
    assert newest == sorted(waiting, reverse=True)
    assert cli_ids(setting.cli, "app", "list", "--as", who) == newest
    # A filter narrows all three alike.
    submitted = api_ids(person, "/api/v1/applications", state="submitted")
    assert cli_ids(setting.cli, "app", "list", "--as", who, "--state", "submitted") == submitted
    with setting.live.factory() as session:
        states = dict(session.execute(select(Application.id, Application.state)).all())
    assert submitted == [i for i in newest if states[i] == "submitted"]


def test_pages_api_and_cli_list_the_same_members(setting: Setting) -> None:
    for role in PEOPLE:
        _same_members(setting, role)


def _same_members(setting: Setting, role: str) -> None:
    person, who = setting.people[role], PEOPLE[role]
    shown = page_ids(person, "/members", "members")
    if role != "city":
        assert len(shown) > SIZE
    assert api_ids(person, "/api/v1/members") == shown
    now = START.strftime("%Y-%m-%dT%H:%M")
    assert cli_ids(setting.cli, "member", "list", "--as", who, "--now", now) == shown
    assert cli_pages(setting.cli, "member", "list", "--as", who, "--now", now) == shown
    # inactive, then overdue, then active (by city name within each)
    with setting.live.factory() as session:
        standing = dict(session.execute(select(Membership.id, Membership.state)).all())
    rank = {"inactive": 0, "overdue": 1, "active": 2}
    ranks = [rank.get(standing[i], 3) for i in shown]
    assert ranks == sorted(ranks)


def test_pages_api_and_cli_list_the_same_reports_to_review(setting: Setting) -> None:
    for role in ("institute", "admin"):
        _same_reports(setting, role)
    # a city and a Commission have no review queue, by page and by API alike
    for role in ("city", "commission"):
        assert setting.people[role].pages.get("/reports").status_code == 403
        assert setting.people[role].api.get("/api/v1/reports").status_code == 403


def _same_reports(setting: Setting, role: str) -> None:
    person, who = setting.people[role], PEOPLE[role]
    shown = page_ids(person, "/reports", "reports")
    assert len(shown) >= 12
    assert [r["id"] for r in person.api.get("/api/v1/reports").json()] == shown
    # The CLI lists obligations by due date: the same reports, in that list's order.
    listed = cli_ids(setting.cli, "report", "list", "--as", who, "--state", "submitted")
    assert sorted(listed) == sorted(shown)
    with setting.live.factory() as session:
        times = dict(session.execute(select(Report.id, Report.submitted_at)).all())
    waited = [times[i] or START for i in shown]
    assert waited == sorted(waited)  # the longest waiting first
