"""The expert jury in the portal, on SQLite and PostgreSQL: the Institute sets a review
deadline, spreads a call's applications and reassigns a declined one; a juror sees only
their assignments, scores blind (the others' scores only after theirs) and declines with
a reason; the ranking and the scores as CSV (BOM, no formula); the application page shows
the jury's recommendation; refusals in the reader's language."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import ADMIN, World, utc
from tests.e2e.clients import Visitor, visitor
from tests.e2e.live import Live, live_portal
from tests.integration.test_jury import forwarded
from web.demo import PASSWORD
from web.security import hash_password
from workflow.db import transaction
from workflow.models import Application, JuryAssignment, User
from workflow.services import users

IN_2027 = utc(2027, 3, 2, 9)
JURORS = {"lv": "LV", "fr": "FR", "ee": "EE"}
FIVE = ("commitment", "good_practice", "vision", "implementation_plan", "monitoring")


def shown(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture
def jury_world(world: World, db_url: str, tmp_path: Path) -> Iterator[tuple[Live, dict[str, int]]]:
    ids = {c: forwarded(world, c) for c in ("Jelgava", "Tartu", "Lyon")}
    with transaction(world.factory) as session:
        for name, code in JURORS.items():
            users.create_user(
                session,
                ADMIN,
                email=f"{name}.juror@example.org",
                name=f"Juror {name.upper()}",
                role="juror",
                country_code=code,
                password_hash=hash_password(PASSWORD),
                now=IN_2027,
            )
    with live_portal(db_url, tmp_path, utc(2027, 3, 10, 9)) as live:
        yield live, ids


def assignment_of(live: Live, app_id: int, juror: str) -> int:
    with live.factory() as session:
        return int(
            session.scalars(
                select(JuryAssignment.id)
                .join(User, JuryAssignment.juror_id == User.id)
                .where(
                    JuryAssignment.application_id == app_id,
                    User.email == f"{juror}.juror@example.org",
                )
            ).one()
        )


def jurors_of(live: Live, app_id: int) -> dict[str, str]:
    with live.factory() as session:
        return {
            a.juror.email.split(".")[0]: a.state
            for a in session.scalars(
                select(JuryAssignment).where(JuryAssignment.application_id == app_id)
            )
        }


def score_form(mark: int, **extra: str) -> dict[str, str]:
    form = {f"score_{c}": str(mark) for c in FIVE}
    form.update({f"comment_{c}": "" for c in FIVE})
    return {**form, "recommendation": "admit", "comment": "", **extra}


def test_the_jury_in_the_portal(jury_world: tuple[Live, dict[str, int]]) -> None:
    live, ids = jury_world
    with live.factory() as session:
        app = session.get(Application, ids["Lyon"])
        assert app is not None
        call = app.call.name
    page = f"/jury/calls/{call}"
    institute = visitor(live.url, "institute@example.org")
    people: dict[str, Visitor] = {}
    try:
        # The Institute: the calls, the deadline (a bad date refused in words), spreading.
        assert call in shown(institute.pages.get("/jury").text)
        assert f'href="/jury/calls/{call}"' in institute.pages.get("/admin/calls").text
        bad = institute.post_form(f"{page}/deadline", {"review_deadline": "31.04.2027"})
        assert bad.headers["location"] == page
        assert "Review deadline” is not a date" in shown(institute.pages.get(page).text)
        ok = institute.post_form(f"{page}/deadline", {"review_deadline": "2027-04-30"})
        assert ok.headers["location"] == f"{page}?done=jury_deadline"
        spread = institute.post_form(f"{page}/spread", {"per_application": "2"})
        assert spread.headers["location"] == f"{page}?done=jury_spread"
        # two jurors each, never of the city's own country: the two other countries
        assert set(jurors_of(live, ids["Lyon"])) == {"lv", "ee"}
        assert set(jurors_of(live, ids["Tartu"])) == {"lv", "fr"}
        html = institute.pages.get(page).text
        assert "Juror LV" in shown(html) and 'value="2027-04-30"' in html
        # the service still refuses a juror of the city's own country
        own = institute.post_form(
            f"{page}/assign",
            {"application_id": str(ids["Jelgava"]), "juror_id": _user_id(live, "lv")},
        )
        assert own.headers["location"] == page
        assert "the country of this city" in shown(institute.pages.get(page).text)

        for name in JURORS:
            people[name] = visitor(live.url, f"{name}.juror@example.org")
        lv, ee = people["lv"], people["ee"]
        # A juror's nav, list and pages: only their assignments.
        mine = lv.pages.get("/jury")
        assert mine.status_code == 200
        assert 'href="/applications"' not in mine.text and 'href="/members"' not in mine.text
        text = shown(mine.text)
        assert "Lyon" in text and "Tartu" in text and "Jelgava" not in text
        assert "Apr 30, 2027" in text
        assert lv.pages.get(page).status_code == 403
        assert lv.pages.get(f"/applications/{ids['Jelgava']}").status_code in (403, 404)
        lyon_ee = assignment_of(live, ids["Lyon"], "ee")
        assert lv.pages.get(f"/jury/assignments/{lyon_ee}").status_code == 403

        # Scoring, blind: ee scores Lyon first; lv sees only their own row until they score.
        lyon_lv = assignment_of(live, ids["Lyon"], "lv")
        unconfirmed = lv.post_form(f"/jury/assignments/{lyon_lv}/scores", score_form(4))
        assert unconfirmed.headers["location"] == f"/jury/assignments/{lyon_lv}"
        assert "Confirm" in shown(lv.pages.get(f"/jury/assignments/{lyon_lv}").text)
        done = ee.post_form(
            f"/jury/assignments/{lyon_ee}/scores",
            score_form(2, confirm="yes", recommendation="not_admit", comment="=HYPERLINK(1)"),
        )
        assert done.headers["location"] == f"/jury/assignments/{lyon_ee}?done=jury_scored"
        before = shown(lv.pages.get(f"/jury/assignments/{lyon_lv}").text)
        assert "Juror LV" in before and "Juror EE" not in before
        assert "once you have submitted yours" in before
        missing = score_form(5, confirm="yes")
        del missing["score_vision"]
        lv.post_form(f"/jury/assignments/{lyon_lv}/scores", missing)
        assert "A clear vision of lifelong learning for all" in shown(
            lv.pages.get(f"/jury/assignments/{lyon_lv}").text
        )
        lv.post_form(f"/jury/assignments/{lyon_lv}/scores", score_form(5, confirm="yes"))
        after = shown(lv.pages.get(f"/jury/assignments/{lyon_lv}").text)
        assert "Juror EE" in after and "3.50" in after

        # Declining, in French: a reason is required, then the confirmation.
        tartu_lv = assignment_of(live, ids["Tartu"], "lv")
        assert lv.post_form("/language", {"lang": "fr", "next": "/jury"}).status_code == 303
        assert "Mes dossiers" in shown(lv.pages.get("/jury").text)
        lv.post_form(f"/jury/assignments/{tartu_lv}/decline", {"reason": " ", "confirm": "yes"})
        assert "Dites pourquoi vous refusez" in shown(
            lv.pages.get(f"/jury/assignments/{tartu_lv}").text
        )
        gone = lv.post_form(
            f"/jury/assignments/{tartu_lv}/decline",
            {"reason": "J'ai conseillé Tartu.", "confirm": "yes"},
        )
        assert gone.headers["location"] == "/jury?done=jury_declined"
        assert jurors_of(live, ids["Tartu"])["lv"] == "declined"
        assert lv.pages.get(f"/applications/{ids['Tartu']}").status_code in (403, 404)

        # The Institute reassigns Tartu: the select offers only who may take it (not ee of
        # Estonia, not lv who declined, not fr who has it): a juror invited since.
        with transaction(live.factory) as session:
            users.create_user(
                session,
                ADMIN,
                email="fr2.juror@example.org",
                name="Juror FR2",
                role="juror",
                country_code="FR",
                now=IN_2027,
            )
        text = institute.pages.get(page).text
        assert "J'ai conseillé Tartu." in shown(text)
        offered = text.split(f'id="juror-{ids["Tartu"]}"')[1].split("</select>")[0]
        assert "Juror FR2" in offered
        assert not {"Juror LV", "Juror EE", "Juror FR<"} & set(re.findall(r"Juror \w+<?", offered))
        assert f'id="juror-{ids["Lyon"]}"' not in text  # Lyon: nobody of another country left
        again = institute.post_form(
            f"{page}/assign",
            {"application_id": str(ids["Tartu"]), "juror_id": _user_id(live, "fr2")},
        )
        assert again.headers["location"] == f"{page}?done=jury_assigned"
        assert jurors_of(live, ids["Tartu"]) == {
            "lv": "declined",
            "fr": "assigned",
            "fr2": "assigned",
        }

        # The ranking and the scores as CSV; the application page's recommendation.
        ranking = institute.pages.get(f"{page}/ranking.csv")
        assert ranking.status_code == 200 and ranking.text.startswith("\ufeff")
        rows = list(csv.DictReader(io.StringIO(ranking.text.removeprefix("\ufeff"))))
        assert rows[0]["city"] == "Lyon" and rows[0]["rank"] == "1"
        assert rows[0]["mean"] == "3.5" and rows[0]["recommendation"] == "tied"
        assert rows[0]["jurors_assigned"] == "2" and rows[0]["commitment"] == "3.5"
        scores = institute.pages.get(f"{page}/scores.csv").text.removeprefix("\ufeff")
        by_juror = {(r["juror_email"], r["city"]): r for r in csv.DictReader(io.StringIO(scores))}
        assert by_juror["ee.juror@example.org", "Lyon"]["comment"] == "'=HYPERLINK(1)"
        assert by_juror["lv.juror@example.org", "Lyon"]["vision"] == "5"
        declined = [r for r in by_juror.values() if r["declined_reason"]]
        assert [r["city"] for r in declined] == ["Tartu"]
        detail = shown(institute.pages.get(f"/applications/{ids['Lyon']}").text)
        assert "The jury recommends: tied (1 of 2 jurors for admission, mean 3.50)" in detail
        # A city never sees the jury.
        city = visitor(live.url, "lyon@example.org")
        try:
            assert city.pages.get("/jury").status_code == 403
            assert "jury recommends" not in city.pages.get(f"/applications/{ids['Lyon']}").text
        finally:
            city.close()
    finally:
        institute.close()
        for v in people.values():
            v.close()


def _user_id(live: Live, juror: str) -> str:
    with live.factory() as session:
        return str(
            session.scalars(select(User.id).where(User.email == f"{juror}.juror@example.org")).one()
        )


def test_the_jury_through_the_api(jury_world: tuple[Live, dict[str, int]]) -> None:
    live, ids = jury_world
    with live.factory() as session:
        app = session.get(Application, ids["Lyon"])
        assert app is not None
        call = app.call.name
    people = [visitor(live.url, f"{n}@example.org") for n in ("institute", "lv.juror", "ee.juror")]
    institute, lv, ee = (p.api for p in people)
    try:
        base = f"/api/v1/jury/calls/{call}"
        deadline = institute.put(f"{base}/review-deadline", json={"review_deadline": "2027-04-30"})
        assert deadline.json() == {"review_deadline": "2027-04-30"}
        assert lv.post(f"{base}/spread", json={}).status_code == 403
        assert institute.post(f"{base}/spread", json={"per_application": 0}).status_code == 422
        spread = institute.post(f"{base}/spread", json={"per_application": 2})
        assert spread.status_code == 200 and len(spread.json()["created"]) == 6
        own = institute.post(
            f"{base}/assign",
            json={"application_id": ids["Jelgava"], "juror": "lv.juror@example.org"},
        )
        assert own.status_code == 422 and "own country" in own.json()["message"]
        listed = institute.get("/api/v1/jury/assignments", params={"call": call}).json()
        assert len(listed) == 6
        assert institute.get("/api/v1/jury/assignments").status_code == 422

        mine = {a["city"]: a for a in lv.get("/api/v1/jury/assignments").json()}
        assert set(mine) == {"Lyon", "Tartu"}
        assert mine["Lyon"]["review_deadline"] == "2027-04-30"
        assert lv.get(f"{base}/ranking").status_code == 403
        assert lv.get(f"/api/v1/applications/{ids['Jelgava']}/scores").status_code == 403
        lyon_ee = assignment_of(live, ids["Lyon"], "ee")
        scores = dict.fromkeys(FIVE, 3)
        missing = ee.post(
            f"/api/v1/jury/assignments/{lyon_ee}/scores",
            json={"scores": {"vision": 3}, "recommendation": "admit"},
        )
        assert missing.status_code == 422 and "vision" not in missing.json()["message"]
        assert (
            lv.post(
                f"/api/v1/jury/assignments/{lyon_ee}/scores",
                json={"scores": scores, "recommendation": "admit"},
            ).status_code
            == 403
        )  # another juror's
        done = ee.post(
            f"/api/v1/jury/assignments/{lyon_ee}/scores",
            json={"scores": scores, "recommendation": "admit", "comment": "Good."},
        )
        assert done.status_code == 200 and done.json()["state"] == "scored"
        # blind: lv reads only their own row until they score
        blind = lv.get(f"/api/v1/applications/{ids['Lyon']}/scores").json()
        assert [j["email"] for j in blind["jurors"]] == ["lv.juror@example.org"]
        lyon_lv = mine["Lyon"]["id"]
        lv.post(
            f"/api/v1/jury/assignments/{lyon_lv}/scores",
            json={"scores": dict.fromkeys(FIVE, 5), "recommendation": "not_admit"},
        )
        seen = lv.get(f"/api/v1/applications/{ids['Lyon']}/scores").json()
        assert len(seen["jurors"]) == 2 and seen["mean"] == 4.0 and seen["spread"] == 2.0
        assert seen["recommendation"] == "tied"
        declined = lv.post(
            f"/api/v1/jury/assignments/{mine['Tartu']['id']}/decline",
            json={"reason": "A conflict of interest."},
        )
        assert declined.json()["state"] == "declined"
        ranked = institute.get(f"{base}/ranking").json()
        assert ranked[0]["city"] == "Lyon" and ranked[0]["mean"] == 4.0
        wrong = institute.post(
            f"{base}/assign", json={"application_id": ids["Tartu"], "juror": 10_000}
        )
        assert wrong.status_code == 404
    finally:
        for person in people:
            person.close()


def test_the_admin_invites_a_juror_with_their_country(
    jury_world: tuple[Live, dict[str, int]],
) -> None:
    live, _ = jury_world
    admin = visitor(live.url, "admin@example.org")
    try:
        form = admin.pages.get("/admin/users").text
        assert '<option value="juror">Juror</option>' in form
        new = {"email": "new.juror@example.org", "name": "New Juror", "role": "juror"}
        refused = admin.post_form("/admin/users", new)
        assert refused.headers["location"] == "/admin/users"
        assert "A juror needs their own country" in shown(admin.pages.get("/admin/users").text)
        done = admin.post_form("/admin/users", {**new, "country_code": "EE"})
        assert done.headers["location"] == "/admin/users?done=invited"
        with live.factory() as session:
            user = session.scalars(select(User).where(User.email == "new.juror@example.org")).one()
            assert (user.role, user.country_code) == ("juror", "EE")
    finally:
        admin.close()
