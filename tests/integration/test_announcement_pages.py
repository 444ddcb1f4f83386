"""Announcements in the portal, over real HTTP on SQLite and PostgreSQL: the Institute
starts a draft, adds the decided but unannounced applications, removes one, publishes
after a confirmation page (the city becomes a member on the announcement's date and sees
"admitted"), then corrects a decision with a reason (the membership ends, the list says
"corrected", the history keeps the reason). Refusals come back on the form's page in the
reader's words; cities and Commissions get 403.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from notifications.models import OutboxMessage
from tests.conftest import INSTITUTE, World
from tests.e2e.clients import Visitor, visitor
from tests.e2e.live import Live, live_portal
from workflow.db import transaction
from workflow.models import Announcement, Application, City, Membership, User
from workflow.services import announcements, decisions, submissions

START = datetime(2027, 3, 10, 9, tzinfo=UTC)
ALERT = re.compile(r'role="alert">(.*?)</div>', re.S)


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(db_url, tmp_path, START) as portal:
        yield portal


def _world(live: Live) -> World:
    with live.factory() as session:
        cities = {c.name: c.id for c in session.scalars(select(City))}
    return World(live.factory, live.settings, cities)


def _decided(live: Live, city: str, trigger: str) -> int:
    world = _world(live)
    now = START
    app_id = world.draft(city, now)
    with transaction(live.factory) as session:
        if city == "Lyon":
            submissions.submit_direct(
                session, live.settings, world.city(city), app_id, now=now, endorsement="CNFU 44"
            )
        else:
            submissions.submit(session, live.settings, world.city(city), app_id, now=now)
            submissions.endorse(session, live.settings, World.commission("LV"), app_id, now=now)
        decisions.decide(session, live.settings, INSTITUTE, app_id, "start_review", now=now)
        comment = "Not this time." if trigger == "not_admit" else ""
        decisions.decide(
            session, live.settings, INSTITUTE, app_id, trigger, now=now, comment=comment
        )
    return app_id


def _alert(person: Visitor, path: str) -> str:
    page = person.pages.get(path)
    assert page.status_code == 200
    found = ALERT.search(page.text)
    assert found, page.text[:2000]
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def _membership(live: Live, app_id: int) -> Membership | None:
    with live.factory() as session:
        return session.scalars(
            select(Membership).where(Membership.application_id == app_id)
        ).first()


def test_the_institute_builds_publishes_and_corrects_an_announcement(live: Live) -> None:
    jelgava, lyon = _decided(live, "Jelgava", "admit"), _decided(live, "Lyon", "not_admit")
    institute = visitor(live.url, "institute@example.org")
    city = visitor(live.url, "jelgava@example.org")
    try:
        listed = institute.pages.get("/announcements")
        assert listed.status_code == 200
        assert "2 decisions wait for an announcement." in listed.text
        assert 'href="/announcements"' in listed.text  # the nav
        # the application page says it is decided and not yet announced
        detail = institute.pages.get(f"/applications/{jelgava}").text
        assert "Decided, not yet announced" in detail
        assert "state-under_review" in city.pages.get(f"/applications/{jelgava}").text

        # a planned date must be a date; the input is kept
        refused = institute.post_form("/announcements", {"title": "Spring", "date": "soon"})
        assert refused.headers["location"] == "/announcements"
        assert "“Date of the announcement” is not a date" in _alert(institute, "/announcements")
        made = institute.post_form(
            "/announcements", {"title": "New members, March 2027", "date": "2027-03-20"}
        )
        assert made.status_code == 303
        path = made.headers["location"].split("?")[0]
        assert made.headers["location"].endswith("?done=announcement_created")
        page = institute.pages.get(path).text
        assert "New members, March 2027" in page and f'value="{jelgava}"' in page
        assert f'value="{lyon}"' in page

        added = institute.pages.post(
            f"{path}/add",
            data={"csrf_token": institute.csrf, "application": [str(jelgava), str(lyon)]},
        )
        assert added.headers["location"] == f"{path}?done=announcement_added"
        page = institute.pages.get(path).text
        assert "2 decisions" in page and "The decisions are added." not in page
        assert f"{path}/remove/{lyon}" in page and f"{path}/publish" in page
        removed = institute.post_form(f"{path}/remove/{lyon}")
        assert removed.headers["location"] == f"{path}?done=announcement_removed"
        page = institute.pages.get(f"{path}?done=announcement_removed").text
        assert "The decision is removed from the announcement." in page
        assert f'value="{lyon}"' in page, "back among the unannounced decisions"
        assert (
            f"/announcements/{path.rsplit('/', 1)[1]}"
            in institute.pages.get(f"/applications/{jelgava}").text
        )

        # publishing: a confirmation page first, a bad date refused there
        asked = institute.pages.get(f"{path}/publish").text
        assert "1 city will be emailed, with a copy to its National Commission." in asked
        assert "1 membership will start on the announcement" in asked
        assert 'value="2027-03-20"' in asked  # the planned date
        bad = institute.post_form(
            f"{path}/publish", {"title": "New members, March 2027", "date": "20 March"}
        )
        assert bad.headers["location"] == f"{path}/publish"
        assert "is not a date" in _alert(institute, f"{path}/publish")
        assert _membership(live, jelgava) is None
        done = institute.post_form(
            f"{path}/publish", {"title": "New members, March 2027", "date": "2027-03-20"}
        )
        assert done.headers["location"] == f"{path}?done=announcement_published"
        member = _membership(live, jelgava)
        assert member is not None and member.admitted_on == date(2027, 3, 20)
        assert "state-admitted" in city.pages.get(f"/applications/{jelgava}").text
        with live.factory() as session:
            told = session.scalars(
                select(OutboxMessage.occasion).where(
                    OutboxMessage.subject_type == "application",
                    OutboxMessage.subject_id == jelgava,
                )
            ).all()
        assert told.count("application_admitted") == 2  # the city, and its Commission (Cc)
        page = institute.pages.get(path).text
        assert f"{path}/publish" not in page and f"{path}/correct/{jelgava}" in page

        # a correction: confirm with a reason
        asked = institute.pages.get(f"{path}/correct/{jelgava}").text
        assert "The city&#39;s membership ends." in asked or "The city's membership ends." in asked
        empty = institute.post_form(f"{path}/correct/{jelgava}", {"reason": ""})
        assert empty.headers["location"] == f"{path}/correct/{jelgava}"
        assert _alert(institute, f"{path}/correct/{jelgava}")
        fixed = institute.post_form(
            f"{path}/correct/{jelgava}", {"reason": "The endorsement was withdrawn."}
        )
        assert fixed.headers["location"] == f"{path}?done=announcement_corrected"
        member = _membership(live, jelgava)
        assert member is not None and member.state == "removed"
        page = institute.pages.get(path).text
        assert "The endorsement was withdrawn." in page and "(corrected once)" in page
        assert "(corrected once)" in institute.pages.get("/announcements").text
        with live.factory() as session:
            found = session.scalars(select(Announcement)).one()
            assert (found.state, found.corrected) == ("corrected", 1)
            assert session.get(Application, jelgava).state == "not_admitted"  # type: ignore[union-attr]

        # cities and Commissions never see announcements
        assert city.pages.get("/announcements").status_code == 403
        assert city.pages.get(path).status_code == 403
    finally:
        institute.close()
        city.close()


def test_the_announcement_pages_in_french(live: Live) -> None:
    app_id = _decided(live, "Jelgava", "admit")
    with transaction(live.factory) as session:
        session.execute(
            update(User).where(User.email == "institute@example.org").values(language="fr")
        )
    institute = visitor(live.url, "institute@example.org")
    try:
        page = institute.pages.get("/announcements").text
        assert "Annonces des nouveaux membres" in page
        assert "1 décision attend une annonce." in page
        assert "Décidée, pas encore annoncée" in institute.pages.get(f"/applications/{app_id}").text
        made = institute.post_form("/announcements", {"title": "Nouveaux membres", "date": ""})
        path = made.headers["location"].split("?")[0]
        institute.pages.post(
            f"{path}/add", data={"csrf_token": institute.csrf, "application": [str(app_id)]}
        )
        asked = institute.pages.get(f"{path}/publish").text
        assert "1 ville recevra un courriel, avec copie à sa Commission nationale." in asked
        bad = institute.post_form(f"{path}/publish", {"title": "Nouveaux membres", "date": "x"})
        assert bad.status_code == 303
        assert "Date de l’annonce" in _alert(institute, f"{path}/publish").replace("'", "’")
    finally:
        institute.close()


def test_announcements_through_the_json_api(live: Live) -> None:
    jelgava, lyon = _decided(live, "Jelgava", "admit"), _decided(live, "Lyon", "not_admit")
    institute = visitor(live.url, "institute@example.org")
    admin = visitor(live.url, "admin@example.org")
    city = visitor(live.url, "jelgava@example.org")
    try:
        waiting = institute.api.get("/api/v1/announcements/unannounced").json()
        assert [(d["application_id"], d["decision"]) for d in waiting] == [
            (jelgava, "admitted"), (lyon, "not_admitted"),
        ]  # fmt: skip
        made = institute.api.post("/api/v1/announcements", json={"title": "API batch"})
        assert made.status_code == 201, made.text
        key = made.json()["id"]
        assert made.json()["state"] == "draft" and made.json()["decisions"] == []
        empty = institute.api.post(
            f"/api/v1/announcements/{key}/publish", json={"date": "2027-04-01"}
        )
        assert empty.status_code == 422
        assert empty.json() == {
            "code": "invalid_input",
            "message": f"Announcement {key} has no decisions to tell.",
        }
        added = institute.api.post(
            f"/api/v1/announcements/{key}/decisions", json={"application_ids": [jelgava, lyon]}
        )
        assert added.status_code == 200, added.text
        assert added.json()["cities"] == 2
        removed = institute.api.delete(f"/api/v1/announcements/{key}/decisions/{lyon}")
        assert [d["application_id"] for d in removed.json()["decisions"]] == [jelgava]
        # administrators read, only the Institute acts; cities get nothing
        assert admin.api.get(f"/api/v1/announcements/{key}").status_code == 200
        assert (
            admin.api.post(
                f"/api/v1/announcements/{key}/publish", json={"date": "2027-04-01"}
            ).status_code
            == 403
        )
        assert city.api.get("/api/v1/announcements").status_code == 403
        published = institute.api.post(
            f"/api/v1/announcements/{key}/publish", json={"date": "2027-04-01"}
        )
        assert published.status_code == 200, published.text
        body = published.json()
        assert (body["state"], body["date"]) == ("published", "2027-04-01")
        member = _membership(live, jelgava)
        assert member is not None and member.admitted_on == date(2027, 4, 1)
        again = institute.api.post(
            f"/api/v1/announcements/{key}/decisions", json={"application_ids": [lyon]}
        )
        assert again.status_code == 422 and "is published" in again.json()["message"]
        fixed = institute.api.post(
            f"/api/v1/announcements/{key}/decisions/{jelgava}/correct",
            json={"reason": "Counted twice."},
        )
        assert fixed.status_code == 200, fixed.text
        body = fixed.json()
        assert (body["state"], body["corrected"]) == ("corrected", 1)
        assert body["decisions"][0]["decision"] == "not_admitted"
        said = [c["comment"] for c in body["corrections"]]
        assert said == [f"application {jelgava}: Counted twice."]
        listed = institute.api.get("/api/v1/announcements").json()
        assert [(a["id"], a["state"], a["cities"]) for a in listed] == [(key, "corrected", 1)]
    finally:
        for person in (institute, admin, city):
            person.close()


def test_a_city_cannot_withdraw_a_decided_application_nor_learn_the_decision(
    live: Live,
) -> None:
    """docs/domain.md: the city withdraws until the Institute has decided; an unannounced
    decision is under review for it, and the refusal does not give the decision away."""
    app_id = _decided(live, "Jelgava", "not_admit")
    city = visitor(live.url, "jelgava@example.org")
    try:
        page = city.pages.get(f"/applications/{app_id}").text
        assert "badge state-under_review" in page and "badge state-not_admitted" not in page
        assert "Not this time." not in page  # the reason of the refusal waits too
        sent = city.post_form(
            f"/applications/{app_id}/act", {"trigger": "withdraw", "confirm": "yes"}
        )
        assert sent.status_code == 303
        said = _alert(city, sent.headers["location"])
        assert "The Institute has taken its decision on this application" in said
        assert "admitted" not in said.lower()
        api = city.api.post(f"/api/v1/applications/{app_id}/actions/withdraw", json={})
        assert api.status_code == 422 and "admitted" not in api.text
        with live.factory() as session:
            found = session.get(Application, app_id)
            assert found is not None and found.state == "not_admitted"
    finally:
        city.close()


def test_the_public_list_of_announcements_needs_no_sign_in(live: Live) -> None:
    jelgava, lyon = _decided(live, "Jelgava", "admit"), _decided(live, "Lyon", "not_admit")
    anyone = visitor(live.url, None)
    try:
        assert (
            "No announcement has been published yet."
            in anyone.pages.get("/announcements/public").text
        )
        assert anyone.pages.get("/announcements").status_code == 303  # to the sign-in
        with transaction(live.factory) as session:
            found = announcements.announce(
                session, live.settings, INSTITUTE, [jelgava, lyon], on=date(2027, 3, 12),
                title="New members, March 2027", now=START,
            )  # fmt: skip
            key = found.id
        page = anyone.pages.get("/announcements/public")
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert "New members, March 2027" in text and "2 cities." in text
        assert "Jelgava" in text and "Lyon" not in text  # only the admitted are named
        with transaction(live.factory) as session:
            announcements.correct(
                session, live.settings, INSTITUTE, key, jelgava, reason="Counted twice.",
                now=START,
            )  # fmt: skip
        text = html.unescape(anyone.pages.get("/announcements/public").text)
        assert "(corrected once)" in text and "Jelgava" not in text
        fr = anyone.pages.get("/announcements/public", headers={"Accept-Language": "fr"})
        assert "Nouveaux membres du réseau" in fr.text
    finally:
        anyone.close()
