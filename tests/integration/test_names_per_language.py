"""A Commission's and a city's names per language (``workflow.names``), on SQLite and
PostgreSQL: stored by the services, the admin forms (Post-Redirect-Get) and the CSV
import; said in the reader's language by the pages, the API and the mail, and the stored
name where a language has none."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from notifications import contexts
from notifications.render import render
from tests.e2e.clients import Visitor, visitor
from tests.e2e.live import Live, live_portal
from workflow.actors import Actor
from workflow.errors import InvalidInput
from workflow.events import Event
from workflow.models import City, Country, Membership
from workflow.names import city_name, commission_name, merged
from workflow.services import directory, imports
from workflow.states import Role

START = datetime(2027, 3, 10, 9, tzinfo=UTC)
ADMIN = Actor(Role.ADMIN, "test")
LV_COMMISSION = "UNESCO Latvijas Nacionālā komisija"


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(db_url, tmp_path, START) as portal:
        yield portal


@pytest.fixture
def admin(live: Live) -> Iterator[Visitor]:
    person = visitor(live.url, "admin@example.org")
    yield person
    person.close()


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def speak(person: Visitor, lang: str) -> None:
    switched = person.pages.post(
        "/language", data={"csrf_token": person.csrf, "lang": lang, "next": "/"}
    )
    assert switched.status_code == 303


def test_the_stored_name_is_said_where_a_language_has_none(live: Live) -> None:
    with live.factory() as session:
        latvia = session.get(Country, "LV")
        assert latvia is not None
        assert commission_name(latvia, "lv") == LV_COMMISSION
        assert commission_name(latvia, "en") == "Latvian National Commission for UNESCO"
        lyon = session.scalars(select(City).where(City.name == "Lyon")).one()
        assert city_name(lyon, "ru") == "Лион" and city_name(lyon, "fr") == "Lyon"
        directory.upsert_country(
            session, ADMIN, code="LV", name="Latvia", commission_name="Stored name",
            commission_email="office.lv@demo.example.org", language="lv", now=START,
            commission_names={"fr": "", "ru": "  "},
        )  # fmt: skip
        session.commit()
        session.refresh(latvia)
        # a blank name removes its language: the stored name is said instead
        assert commission_name(latvia, "fr") == "Stored name"
        assert commission_name(latvia, "ru") == "Stored name"
        assert commission_name(latvia, "lv") == LV_COMMISSION
        assert commission_name(None, "fr") == ""
    assert merged({"fr": "A", "lv": "B"}, {"fr": " ", "ru": " C "}) == {"lv": "B", "ru": "C"}


def test_a_name_per_language_is_one_line_of_a_network_language(live: Live) -> None:
    with live.factory() as session:
        for names, why in (({"de": "Kommission"}, "not_language"), ({"fr": "a\nb"}, "not_one_line"),
                           ({"fr": "x" * 201}, "too_long")):  # fmt: skip
            with pytest.raises(InvalidInput) as refused:
                directory.upsert_country(
                    session, ADMIN, code="LV", name="Latvia", commission_name="",
                    commission_email="office.lv@demo.example.org", now=START,
                    commission_names=names,
                )  # fmt: skip
            assert refused.value.reason == f"invalid_input.{why}"
            session.rollback()


def test_the_csv_import_may_carry_names_per_language(live: Live) -> None:
    countries = (
        "code,name,commission_name,commission_email,commission_name_fr,commission_name_lv\n"
        "LT,Lithuania,Lithuanian National Commission for UNESCO,info@unesco.lt,"
        "Commission nationale lituanienne pour l'UNESCO,Lietuvas Nacionālā komisija UNESCO\n"
    )
    cities = (
        "country,name,contact_email,contact_name,mayor_name,mayor_title,name_ru\n"
        "LT,Vilnius,info@vilnius.lt,Office,Mayor Name,Mayor,Вильнюс\n"
    )
    with live.factory() as session:
        imports.import_countries(session, ADMIN, countries, now=START)
        imports.import_cities(session, ADMIN, cities, now=START)
        session.commit()
        lt = session.get(Country, "LT")
        vilnius = session.scalars(select(City).where(City.name == "Vilnius")).one()
        assert commission_name(lt, "fr") == "Commission nationale lituanienne pour l'UNESCO"
        assert commission_name(lt, "ru") == "Lithuanian National Commission for UNESCO"
        assert city_name(vilnius, "ru") == "Вильнюс" and city_name(vilnius, "lv") == "Vilnius"
        # a row without the columns keeps the names
        imports.import_countries(
            session, ADMIN,
            "code,name,commission_name,commission_email\nLT,Lithuania,,info@unesco.lt\n",
            now=START,
        )  # fmt: skip
        session.commit()
        session.refresh(lt)
        assert lt is not None and lt.commission_names["lv"] == "Lietuvas Nacionālā komisija UNESCO"


def test_admin_sets_a_commissions_names_and_pages_say_them(live: Live, admin: Visitor) -> None:
    form = {"code": "LV", "name": "Latvia", "commission_name": "Latvian National Commission",
            "commission_email": "office.lv@demo.example.org", "language": "lv",
            "timezone": "Europe/Riga", "region": "", "commission_name_en": "",
            "commission_name_fr": "Commission lettone (essai)",
            "commission_name_lv": LV_COMMISSION, "commission_name_ru": ""}  # fmt: skip
    opened = admin.pages.get("/admin/countries", params={"code": "LV"})
    assert f'value="{LV_COMMISSION}"' in opened.text  # the form opens with its names
    saved = admin.post_form("/admin/countries", form)
    assert saved.status_code == 303
    assert saved.headers["location"] == "/admin/countries?done=country_saved"
    speak(admin, "fr")
    french = text_of(admin.pages.get("/admin/countries").text)
    assert "Commission lettone (essai)" in french and "Nom de la Commission en letton" in french
    assert "Commission nationale française pour l'UNESCO" in french
    assert "Latvian National Commission for UNESCO" not in french
    speak(admin, "ru")
    russian = text_of(admin.pages.get("/admin/countries").text)
    assert "Latvian National Commission" in russian  # no Russian name: the stored one
    assert "Национальная комиссия Франции по делам ЮНЕСКО" in russian
    # a refused name comes back to the form, the input kept
    bad = admin.post_form("/admin/countries", {**form, "commission_name_fr": "x" * 201})
    assert bad.status_code == 303 and bad.headers["location"] == "/admin/countries"
    back = admin.pages.get("/admin/countries")
    assert 'role="alert"' in back.text and "x" * 201 in back.text
    listed = admin.api.get("/api/v1/countries").json()
    latvia = next(c for c in listed if c["code"] == "LV")
    assert latvia["commission_names"] == {"fr": "Commission lettone (essai)", "lv": LV_COMMISSION}
    assert latvia["commission_name"] == "Latvian National Commission"


def test_admin_sets_a_citys_names_and_pages_and_the_api_say_them(
    live: Live, admin: Visitor
) -> None:
    with live.factory() as session:
        valmiera = session.scalars(select(City).where(City.name == "Valmiera")).one()
        member = session.scalars(select(Membership).where(Membership.city_id == valmiera.id)).one()
        city_id, member_id = valmiera.id, member.id
    page = f"/admin/cities/{city_id}"
    assert 'value="Валмиера"' in admin.pages.get(page).text
    form = {"country_code": "LV", "name": "Valmiera",
            "contact_email": "valmiera.lv@demo.example.org", "language": "lv",
            "name_ru": "Валмиера (тест)", "name_fr": "", "name_lv": "", "name_en": ""}  # fmt: skip
    saved = admin.post_form(page, form)
    assert saved.status_code == 303 and saved.headers["location"] == f"{page}?done=city_saved"
    speak(admin, "ru")
    assert "Валмиера (тест)" in text_of(admin.pages.get(f"/members/{member_id}").text)
    speak(admin, "lv")
    latvian = text_of(admin.pages.get(f"/members/{member_id}").text)
    assert "Valmiera" in latvian and "Валмиера" not in latvian
    reports = admin.api.get(f"/api/v1/members/{member_id}/reports")
    assert reports.status_code == 200 and reports.json()
    assert all(r["city"] == "Valmiera" for r in reports.json())
    assert all(r["city_names"] == {"ru": "Валмиера (тест)"} for r in reports.json())


def test_mail_says_the_names_in_the_recipients_language(live: Live) -> None:
    with live.factory() as session:
        valmiera = session.scalars(select(City).where(City.name == "Valmiera")).one()
        member = session.scalars(select(Membership).where(Membership.city_id == valmiera.id)).one()
        event = Event(
            workflow="membership", subject_type="membership", subject_id=member.id,
            trigger="deactivate", source="active", dest="inactive", actor=ADMIN, comment="",
            at=START, facts={"first_due": date(2026, 3, 31), "inactive_since": date(2027, 3, 1)},
        )  # fmt: skip
        context = contexts.membership_inactive(member, live.settings, event)
    latvian = render("membership_inactive", "lv", context)
    assert LV_COMMISSION in latvian.text and "Latvian National Commission" not in latvian.text
    russian = render("membership_inactive", "ru", context)
    assert "Валмиера" in russian.subject and "Национальная комиссия Латвии" in russian.text
    english = render("membership_inactive", "en", context)
    assert "Latvian National Commission for UNESCO" in english.text
    assert "Valmiera" in english.subject
    # a language without names: the stored names
    bare = {**context, "commission_names": {}, "city_names": {}}
    stored = render("membership_inactive", "lv", bare)
    assert "Latvian National Commission for UNESCO" in stored.text
