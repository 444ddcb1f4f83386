"""The network in numbers on a known world: countries' regions (migration default, the
admin's choice, the CSV import), the public directory's query and the Institute's
statistics, checked figure by figure, and ``gnlc directory`` / ``gnlc stats`` printing
the same. SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from cli.main import app as gnlc
from tests.conftest import ADMIN, INSTITUTE, World, utc
from workflow import statistics as stats
from workflow.db import transaction
from workflow.directory_views import DirectoryFilter, directory
from workflow.errors import InvalidInput, NotAllowed
from workflow.models import Country, Report
from workflow.services import announcements, decisions, imports, memberships, submissions
from workflow.services import directory as places

NOW = utc(2027, 3, 10, 12)
TODAY = NOW.date()
#: name, country, admitted, state, since (the day it left, for removed/withdrawn)
MEMBERS = [
    ("Cēsis", "LV", date(2016, 5, 1), "active", None),
    ("Rouen", "FR", date(2018, 7, 17), "withdrawn", utc(2021, 6, 1)),
    ("Tartu", "EE", date(2019, 7, 17), "inactive", None),
    ("Pärnu", "EE", date(2020, 9, 23), "removed", utc(2024, 3, 1)),
    ("Nantes", "FR", date(2022, 9, 2), "overdue", None),
]


def _known_world(world: World) -> dict[str, int]:
    """The members above (websites and private contacts), three applications in the 2027
    call, and progress reports of two cycles."""
    ids: dict[str, int] = {}
    with transaction(world.factory) as session:
        for name, code, admitted, state, since in MEMBERS:
            city = (
                places.find_city(session, f"{code}/{name}")
                if name == "Tartu"
                else places.upsert_city(
                    session,
                    ADMIN,
                    country_code=code,
                    name=name,
                    contact_email=f"private.{code.lower()}@example.org",
                    mayor_name=f"Secret Mayor of {name}",
                    website=f"https://{name.lower()}.example",
                    now=NOW,
                )
            )
            member = memberships.import_member(
                session, world.settings, ADMIN, city, admitted_on=admitted, now=NOW
            )
            member.state = state
            if since is not None:
                member.state_since = since
            ids[name] = member.id
        session.execute(delete(Report))
    jelgava = world.draft("Jelgava", utc(2027, 3, 2, 8))
    lyon = world.draft("Lyon", utc(2027, 3, 2, 8))
    world.draft("Valmiera", utc(2027, 3, 2, 8))
    with transaction(world.factory) as session:
        submissions.submit(
            session, world.settings, world.city("Jelgava"), jelgava, now=utc(2027, 3, 3)
        )
    with transaction(world.factory) as session:
        submissions.endorse(
            session,
            world.settings,
            World.commission("LV"),
            jelgava,
            now=utc(2027, 3, 4),
            comment="Yes",
        )
    with transaction(world.factory) as session:
        submissions.submit_direct(
            session,
            world.settings,
            world.city("Lyon"),
            lyon,
            now=utc(2027, 3, 3),
            endorsement="CNFU 44",
        )
    for trigger in ("start_review", "not_admit"):
        with transaction(world.factory) as session:
            decisions.decide(
                session,
                world.settings,
                INSTITUTE,
                lyon,
                trigger,
                now=utc(2027, 3, 5),
                comment="Not now.",
            )
    with transaction(world.factory) as session:
        reports = [
            (ids["Cēsis"], date(2025, 3, 31), "accepted", utc(2025, 3, 1), False),
            (ids["Tartu"], date(2025, 3, 31), "submitted", utc(2025, 5, 1), True),
            (ids["Nantes"], date(2025, 3, 31), "overdue", None, False),
            (ids["Cēsis"], date(2027, 3, 31), "open", None, False),
        ]
        for member_id, due, state, submitted, late in reports:
            session.add(
                Report(
                    membership_id=member_id,
                    due_on=due,
                    state=state,
                    submitted_at=submitted,
                    late=late,
                    created_at=NOW,
                )
            )
    return ids


def test_countries_carry_their_region(world: World) -> None:
    with transaction(world.factory) as session:
        assert {c.code: c.region for c in session.query(Country)} == {
            "LV": "europe_north_america",
            "EE": "europe_north_america",
            "FR": "europe_north_america",
        }
        # the administrator's choice wins; blank keeps it; a wrong one is refused, named
        places.upsert_country(
            session, ADMIN, code="SN", name="Senegal", commission_name="", now=NOW,
            commission_email="cn@example.sn",
        )  # fmt: skip
        assert session.get(Country, "SN").region == "africa"  # type: ignore[union-attr]
        places.upsert_country(
            session, ADMIN, code="XK", name="Kosovo", commission_name="", now=NOW,
            commission_email="k@example.org",
        )  # fmt: skip
        assert session.get(Country, "XK").region == ""  # type: ignore[union-attr]
        places.upsert_country(
            session, ADMIN, code="XK", name="Kosovo", commission_name="", now=NOW,
            commission_email="k@example.org", region="europe_north_america",
        )  # fmt: skip
        places.upsert_country(
            session, ADMIN, code="XK", name="Kosovo", commission_name="", now=NOW,
            commission_email="k@example.org",
        )  # fmt: skip
        assert session.get(Country, "XK").region == "europe_north_america"  # type: ignore[union-attr]
        with pytest.raises(InvalidInput) as refused:
            places.upsert_country(
                session, ADMIN, code="XK", name="Kosovo", commission_name="", now=NOW,
                commission_email="k@example.org", region="Europe",
            )  # fmt: skip
        assert refused.value.reason == "invalid_input.not_region"
        result = imports.import_countries(
            session,
            ADMIN,
            "code,name,commission_email,region\n"
            "CL,Chile,cn@example.cl,\n"
            "TW,Taiwan,t@example.org,asia_pacific\n",
            now=NOW,
        )
        assert result.created == 2
        assert session.get(Country, "CL").region == "latin_america_caribbean"  # type: ignore[union-attr]
        assert session.get(Country, "TW").region == "asia_pacific"  # type: ignore[union-attr]


def test_directory_lists_members_not_those_who_left(world: World) -> None:
    _known_world(world)
    with transaction(world.factory) as session:
        rows = directory(session)
        assert [(r.city, r.country_code, r.admission_year, r.website) for r in rows] == [
            ("Tartu", "EE", 2019, ""),
            ("Nantes", "FR", 2022, "https://nantes.example"),
            ("Cēsis", "LV", 2016, "https://cēsis.example"),
        ]
        assert {r.region for r in rows} == {"europe_north_america"}
        assert [r.city for r in directory(session, DirectoryFilter(search="ÉSI"))] == []
        assert [r.city for r in directory(session, DirectoryFilter(search="cēs"))] == ["Cēsis"]
        assert [r.city for r in directory(session, DirectoryFilter(country="fr"))] == ["Nantes"]
        assert directory(session, DirectoryFilter(region="africa")) == []


def test_statistics_of_a_known_world(world: World) -> None:
    _known_world(world)
    with transaction(world.factory) as session:
        with pytest.raises(NotAllowed):
            stats.statistics(session, World.commission("LV"), TODAY)
        figures = stats.statistics(session, INSTITUTE, TODAY)
    growth = figures.growth
    assert growth.years == list(range(2016, 2028))
    #                   2016 17 18 19 20 21 22 23 24 25 26 27
    assert growth.by_region == {"europe_north_america": [1, 1, 2, 3, 4, 3, 4, 4, 3, 3, 3, 3]}
    assert growth.by_country == {
        "EE": [0, 0, 0, 1, 2, 2, 2, 2, 1, 1, 1, 1],
        "FR": [0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1],
        "LV": [1] * 12,
    }
    [call] = figures.outcomes
    # Lyon's refusal is decided but not announced yet: still in progress for the network.
    assert call.counts == {
        "admitted": 0, "not_admitted": 0, "declined": 0, "withdrawn": 0, "expired": 0,
        "in_progress": 3,
    }  # fmt: skip
    with transaction(world.factory) as session:
        [lyon] = announcements.unannounced(session, INSTITUTE)
        announcements.announce(
            session, world.settings, INSTITUTE, [lyon.id], on=date(2027, 3, 6),
            title="March 2027", now=utc(2027, 3, 6),
        )  # fmt: skip
    with transaction(world.factory) as session:
        figures = stats.statistics(session, INSTITUTE, TODAY)
    [call] = figures.outcomes
    assert call.counts == {
        "admitted": 0, "not_admitted": 1, "declined": 0, "withdrawn": 0, "expired": 0,
        "in_progress": 2,
    }  # fmt: skip
    assert call.total == 3
    [used] = figures.endorsements
    assert (used.call, used.quota, used.used) == (call.call, 3, {"FR": 1, "LV": 1})
    assert [(c.due_on, c.on_time, c.late, c.missing, c.not_due) for c in figures.compliance] == [
        (date(2025, 3, 31), 1, 1, 1, 0),
        (date(2027, 3, 31), 0, 0, 0, 1),
    ]
    data = figures.as_json()
    assert data["compliance"][0] == {
        "due_on": "2025-03-31", "on_time": 1, "late": 1, "missing": 1, "not_due": 0, "total": 3,
    }  # fmt: skip
    json.dumps(data)  # plain JSON


def test_cli_prints_the_directory_and_the_statistics(
    world: World, db_url: str, tmp_path: Path
) -> None:
    _known_world(world)
    runner = CliRunner(
        env={"GNLC_DATABASE__URL": db_url, "GNLC_MAIL__MAILDIR": str(tmp_path / "mail")}
    )
    listed = runner.invoke(gnlc, ["directory", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [r["city"] for r in json.loads(listed.output)] == ["Tartu", "Nantes", "Cēsis"]
    assert "private" not in listed.output and "Secret" not in listed.output
    wrong = runner.invoke(gnlc, ["directory", "--region", "Europe"])
    assert wrong.exit_code == 1 and "europe_north_america" in wrong.output
    shown = runner.invoke(gnlc, ["stats", "--json", "--now", "2027-03-10"])
    assert shown.exit_code == 0, shown.output
    with transaction(world.factory) as session:
        expected = stats.statistics(session, INSTITUTE, TODAY).as_json()
    assert json.loads(shown.output) == expected
    table = runner.invoke(gnlc, ["stats", "--now", "2027-03-10"])
    assert table.exit_code == 0 and "Reporting compliance" in table.output
    refused = runner.invoke(gnlc, ["stats", "--as", "commission:LV"])
    assert refused.exit_code != 0
