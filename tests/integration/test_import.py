"""CSV imports of countries, cities and existing members on SQLite and PostgreSQL:
all or nothing, an error names its line, and an imported member owes reports by the rule."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from tests.conftest import ADMIN, INSTITUTE, utc
from workflow.db import transaction
from workflow.errors import InvalidInput, NotAllowed
from workflow.models import City, Country, Membership, Report
from workflow.services import directory, imports, memberships
from workflow.services import reports as report_service

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
NOW = utc(2027, 12, 15)
COUNTRIES = """code,name,commission_name,commission_email,language,timezone
LV,Latvia,Latvian National Commission for UNESCO,office@unesco.lv,lv,Europe/Riga
EE,Estonia,Estonian National Commission for UNESCO,unesco@unesco.ee,en,Europe/Tallinn
"""


def counts(factory: sessionmaker[Session]) -> tuple[int, int, int, int]:
    with factory() as session:
        return (
            session.scalar(select(func.count()).select_from(Country)) or 0,
            session.scalar(select(func.count()).select_from(City)) or 0,
            session.scalar(select(func.count()).select_from(Membership)) or 0,
            session.scalar(select(func.count()).select_from(Report)) or 0,
        )


def test_import_the_example_files(factory: sessionmaker[Session], settings: Settings) -> None:
    ticks: list[int] = []
    with transaction(factory) as session:
        countries = imports.import_countries(
            session, ADMIN, (EXAMPLES / "countries.csv").read_text(), now=NOW, progress=ticks.append
        )
        cities = imports.import_cities(
            session, ADMIN, (EXAMPLES / "cities.csv").read_text(), now=NOW
        )
        members = imports.import_members(
            session, settings, ADMIN, (EXAMPLES / "members.csv").read_text(), now=NOW
        )
    assert (countries.rows, countries.created) == (4, 4)
    assert ticks == [1, 1, 1, 1]
    assert (cities.rows, cities.created) == (3, 3)
    assert (members.rows, members.created) == (1, 1)
    with factory() as session:
        latvia = session.get(Country, "LV")
        assert latvia is not None
        assert (latvia.commission_email, latvia.language, latvia.timezone) == (
            "office@unesco.lv",
            "lv",
            "Europe/Riga",
        )
        cesis = directory.find_city(session, "LV/Cēsis")
        assert (cesis.population, cesis.language, cesis.mayor_title) == (15000, "en", "Mayor")
        valmiera = directory.find_city(session, "Valmiera")
        member = session.scalars(select(Membership).where(Membership.city_id == valmiera.id)).one()
        assert (member.state, member.admission_year, member.reports_from) == (
            "active",
            2016,
            date(2027, 12, 15),
        )
        # admitted 2016: due 2018, 2020, ... 2028; only those from the import day on are owed
        reports = report_service.reports_of(session, INSTITUTE, member.id)
        assert [(r.due_on, r.state) for r in reports] == [(date(2028, 3, 31), "open")]
        assert memberships.due_dates(settings, member, 2) == [date(2028, 3, 31), date(2030, 3, 31)]
    # importing the same files again creates nothing new
    with transaction(factory) as session:
        again = imports.import_members(
            session, settings, ADMIN, (EXAMPLES / "members.csv").read_text(), now=NOW
        )
        assert again.created == 0
        assert imports.import_countries(session, ADMIN, COUNTRIES, now=NOW).created == 1
    assert counts(factory) == (5, 4, 1, 1)


def test_one_bad_country_row_imports_nothing(factory: sessionmaker[Session]) -> None:
    bad = COUNTRIES + "FR,France,,not-an-address,fr,Europe/Paris\nDE,Germany,,a@b.de,de,X/Y\n"
    with pytest.raises(InvalidInput) as error, transaction(factory) as session:
        imports.import_countries(session, ADMIN, bad, now=NOW)
    message = str(error.value)
    assert "2 bad row(s), nothing imported" in message
    assert "line 4: commission_email: 'not-an-address'" in message
    assert "line 5:" in message
    assert counts(factory) == (0, 0, 0, 0)


def test_one_bad_city_row_imports_nothing(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        imports.import_countries(session, ADMIN, COUNTRIES, now=NOW)
    cities = (
        "country,name,contact_email,population\n"
        "LV,Jelgava,pasts@jelgava.lv,55000\n"
        "EE,Tartu,linn@tartu.ee,91000\n"
        "XX,Nowhere,a@nowhere.org,1\n"
        "LV,Valmiera,info@valmiera.lv,twenty\n"
    )
    with pytest.raises(InvalidInput) as error, transaction(factory) as session:
        imports.import_cities(session, ADMIN, cities, now=NOW)
    assert "line 4: country: no country 'XX'" in str(error.value)
    assert "line 5: population: 'twenty' is not a whole number" in str(error.value)
    assert counts(factory) == (2, 0, 0, 0)


def test_one_bad_member_row_imports_nothing(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    with transaction(factory) as session:
        imports.import_countries(session, ADMIN, COUNTRIES, now=NOW)
    members = (
        "country,name,contact_email,admitted\n"
        "LV,Jelgava,pasts@jelgava.lv,2016\n"
        "LV,Valmiera,info@valmiera.lv,2016-02-30\n"
    )
    with (
        pytest.raises(InvalidInput, match=r"line 3: admitted: '2016-02-30'"),
        transaction(factory) as session,
    ):
        imports.import_members(session, settings, ADMIN, members, now=NOW)
    assert counts(factory) == (2, 0, 0, 0)


def test_missing_column_is_named(factory: sessionmaker[Session]) -> None:
    with (
        pytest.raises(InvalidInput, match=r"missing column.*commission_email"),
        transaction(factory) as session,
    ):
        imports.import_countries(session, ADMIN, "code,name\nLV,Latvia\n", now=NOW)


def test_only_an_administrator_imports(factory: sessionmaker[Session], settings: Settings) -> None:
    with pytest.raises(NotAllowed), transaction(factory) as session:
        imports.import_countries(session, INSTITUTE, COUNTRIES, now=NOW)
    with pytest.raises(NotAllowed), transaction(factory) as session:
        imports.import_cities(session, INSTITUTE, "country,name,contact_email\n", now=NOW)
    with pytest.raises(NotAllowed), transaction(factory) as session:
        imports.import_members(
            session, settings, INSTITUTE, "country,name,contact_email,admitted\n", now=NOW
        )
    assert counts(factory) == (0, 0, 0, 0)
