"""Calendar feeds (SQLite and PostgreSQL): every date of a city's and a Commission's feed
to the day and to the minute in its timezone, across the summer-time changes; secret
addresses that renew, never show another user's data, and answer 404 when unknown; the
same through the portal, the JSON API and ``gnlc calendar``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from cli.main import app as gnlc_app
from tests.conftest import ADMIN, INSTITUTE, World
from tests.e2e.clients import visitor
from tests.e2e.live import Live, live_portal
from web import feeds
from workflow.db import transaction
from workflow.models import City, User
from workflow.services import announcements, calls, decisions, memberships, submissions, users

#: 10 May 2027: the 2027 call has closed, its Commissions decide until 30 May.
NOW = datetime(2027, 5, 10, 12, tzinfo=UTC)
BERLIN = "Europe/Berlin"
KEY = "k" * 48  # a usable [web] secret_key for the tests


def _user(world: World, email: str, role: str, **scope: Any) -> User:
    with transaction(world.factory) as session:
        user = users.create_user(
            session, ADMIN, email=email, name=email.split("@")[0], role=role, now=NOW, **scope
        )
        session.expunge(user)
    return user


@pytest.fixture
def keyed(world: World) -> World:
    """The world with a secret key, two Berlin calls (one in summer time, one whose
    window crosses the October change), Valmiera (LV) and Lyon (FR) as members."""
    world.settings = world.settings.with_overrides(web={"secret_key": KEY})
    with transaction(world.factory) as session:
        calls.create_call(
            session,
            world.settings,
            ADMIN,
            name="Summer 2027",
            opens_on=date(2027, 6, 1),
            closes_on=date(2027, 7, 31),
            commission_deadline=date(2027, 8, 31),
            timezone=BERLIN,
            now=NOW,
        )
        calls.create_call(
            session,
            world.settings,
            ADMIN,
            name="Autumn 2027",
            opens_on=date(2027, 10, 1),
            closes_on=date(2027, 11, 15),
            commission_deadline=date(2027, 12, 15),
            timezone=BERLIN,
            now=NOW,
        )
        for name in ("Valmiera", "Lyon"):
            city = session.get(City, world.cities[name])
            assert city is not None
            memberships.import_member(
                session,
                world.settings,
                ADMIN,
                city,
                admitted_on=date(2025, 9, 1),
                now=datetime(2027, 1, 10, 12, tzinfo=UTC),
            )
    return world


def feed_of(world: World, user: User, now: datetime = NOW) -> icalendar.Calendar:
    with transaction(world.factory) as session:
        found = session.get(User, user.id)
        assert found is not None
        body = feeds.calendar(session, world.settings, found, now)
    return parse(body)


def parse(body: bytes) -> icalendar.Calendar:
    """The feed as a calendar client reads it, checked against RFC 5545's musts."""
    cal = icalendar.Calendar.from_ical(body)
    assert str(cal["VERSION"]) == "2.0" and str(cal["PRODID"])
    assert body.count(b"\r\n") > 5 and b"\n" not in body.replace(b"\r\n", b"")
    zones = {str(z["TZID"]) for z in cal.walk("VTIMEZONE")}
    uids = [str(e["UID"]) for e in cal.walk("VEVENT")]
    assert len(uids) == len(set(uids)), "every event has its own UID"
    for event in cal.walk("VEVENT"):
        assert "DTSTAMP" in event and "DTSTART" in event and "SUMMARY" in event
        assert str(event["URL"]).startswith("http")
        start = event["DTSTART"]
        if "TZID" in start.params:
            assert start.params["TZID"] in zones, "each TZID has its VTIMEZONE"
    return cal


def events(cal: icalendar.Calendar) -> dict[str, Any]:
    return {str(e["UID"]).split("@")[0]: e for e in cal.walk("VEVENT")}


def call_id(world: World, name: str) -> int:
    with world.factory() as session:
        return calls.by_name(session, name).id


def report_days(cal: icalendar.Calendar) -> dict[str, list[date]]:
    """Each city's report due dates in the feed (all-day events)."""
    found: dict[str, list[date]] = {}
    for uid, event in sorted(events(cal).items()):
        if "-report-" in uid:
            day = event.decoded("DTSTART")
            assert type(day) is date, "a due date is a date: an all-day event"
            assert event.decoded("DTEND") == day + timedelta(days=1)
            city = str(event["SUMMARY"]).rsplit(": ", 1)[1]
            found.setdefault(city, []).append(day)
    return found


def utc_of(event: Any, name: str) -> datetime:
    value = event.decoded(name)
    assert isinstance(value, datetime) and value.tzinfo is not None
    assert event[name].params["TZID"] == BERLIN
    return value.astimezone(UTC).replace(tzinfo=None)


def test_a_member_city_sees_its_report_due_dates_to_the_day(keyed: World) -> None:
    valmiera = _user(keyed, "v@valmiera.lv", "city", city_id=keyed.cities["Valmiera"])
    cal = feed_of(keyed, valmiera)
    # Admitted 2025: due 31 March 2027 (passed this spring, kept), then every second year.
    expected = [date(2027, 3, 31), date(2029, 3, 31), date(2031, 3, 31), date(2033, 3, 31)]
    assert report_days(cal) == {"Valmiera": expected}
    assert not [u for u in events(cal) if u.startswith("call-")], "a member applies no more"
    # The same dates as the member's own page (the one calculation).
    with keyed.factory() as session:
        from workflow.member_views import upcoming_due_dates
        from workflow.models import Membership

        member = session.query(Membership).filter_by(city_id=keyed.cities["Valmiera"]).one()
        assert upcoming_due_dates(keyed.settings, member, NOW) == expected[1:]
        uid = f"membership-{member.id}-report-2029-03-31"
    event = events(cal)[uid]
    assert str(event["URL"]).endswith(f"/members/{member.id}")
    assert b"DTSTART;VALUE=DATE:20290331" in cal.to_ical()


def test_a_city_without_membership_sees_the_call_windows_in_their_timezone(
    keyed: World,
) -> None:
    jelgava = _user(keyed, "j@jelgava.lv", "city", city_id=keyed.cities["Jelgava"], language="lv")
    cal = feed_of(keyed, jelgava)
    found = events(cal)
    assert report_days(cal) == {}
    summer = found[f"call-{call_id(keyed, 'Summer 2027')}-window"]
    # 1 June 00:00 to 1 August 00:00 in Berlin, summer time (UTC+2).
    assert utc_of(summer, "DTSTART") == datetime(2027, 5, 31, 22)
    assert utc_of(summer, "DTEND") == datetime(2027, 7, 31, 22)
    autumn = found[f"call-{call_id(keyed, 'Autumn 2027')}-window"]
    # Opens in summer time (UTC+2), closes after the change of 31 October (UTC+1).
    assert utc_of(autumn, "DTSTART") == datetime(2027, 9, 30, 22)
    assert utc_of(autumn, "DTEND") == datetime(2027, 11, 15, 23)
    assert autumn.decoded("DTSTART").date() == date(2027, 10, 1)
    assert autumn.decoded("DTEND").date() == date(2027, 11, 16)  # after 15 Nov, the last day
    assert b"DTSTART;TZID=Europe/Berlin:20271001T000000" in cal.to_ical()
    # Berlin's VTIMEZONE knows both offsets.
    (zone,) = [z for z in cal.walk("VTIMEZONE") if str(z["TZID"]) == BERLIN]
    offsets = {str(c["TZOFFSETTO"].to_ical()) for c in zone.subcomponents}
    assert {"+0100", "+0200"} <= {o.replace("b'", "").replace("'", "") for o in offsets}
    # In the owner's language (Latvian).
    assert str(autumn["SUMMARY"]) == "Konkurss Autumn 2027: pieteikšanās atvērta"
    # Only calls not cancelled.
    with transaction(keyed.factory) as session:
        calls.cancel_call(session, ADMIN, "Autumn 2027", now=NOW, reason="test")
    assert f"call-{call_id(keyed, 'Autumn 2027')}-window" not in events(feed_of(keyed, jelgava))


def test_a_commission_sees_its_deadlines_and_its_cities_due_dates(keyed: World) -> None:
    lv = _user(keyed, "c@unesco.lv", "commission", country_code="LV", language="fr")
    cal = feed_of(keyed, lv)
    found = events(cal)
    summer = found[f"call-{call_id(keyed, 'Summer 2027')}-commission-deadline"]
    # 31 August ends at midnight in Berlin, summer time: 21:59 to 22:00 UTC.
    assert summer.decoded("DTSTART").date() == date(2027, 8, 31)
    assert utc_of(summer, "DTSTART") == datetime(2027, 8, 31, 21, 59)
    assert utc_of(summer, "DTEND") == datetime(2027, 8, 31, 22)
    autumn = found[f"call-{call_id(keyed, 'Autumn 2027')}-commission-deadline"]
    assert utc_of(autumn, "DTEND") == datetime(2027, 12, 15, 23)  # winter time, UTC+1
    # The 2028 call of the annual rule: its deadline 30 days after 30 April.
    yearly = found[f"call-{call_id(keyed, '2028')}-commission-deadline"]
    assert yearly.decoded("DTSTART").date() == date(2028, 5, 30)
    assert utc_of(yearly, "DTEND") == datetime(2028, 5, 30, 22)
    assert str(yearly["SUMMARY"]) == "Appel 2028 : date limite des Commissions"
    assert "/applications?call=2028" in str(yearly["URL"])
    # Its country's members only: Valmiera, not Lyon (France).
    assert report_days(cal) == {
        "Valmiera": [date(2027, 3, 31), date(2029, 3, 31), date(2031, 3, 31), date(2033, 3, 31)]
    }
    assert not [u for u in found if u.endswith("-window")], "a Commission gets deadlines"


def test_a_feed_never_shows_another_users_data(keyed: World) -> None:
    lyon = _user(keyed, "l@lyon.fr", "city", city_id=keyed.cities["Lyon"])
    valmiera = _user(keyed, "v@valmiera.lv", "city", city_id=keyed.cities["Valmiera"])
    with transaction(keyed.factory) as session:
        lyon_url = feeds.address(session, keyed.settings, lyon.id, NOW).url
        valmiera_url = feeds.address(session, keyed.settings, valmiera.id, NOW).url
    assert lyon_url != valmiera_url
    with transaction(keyed.factory) as session:
        owner = feeds.owner(session, token_of(lyon_url))
        assert owner is not None and owner.id == lyon.id
        body = feeds.calendar(session, keyed.settings, owner, NOW)
    assert b"Valmiera" not in body and b"Lyon" in body
    # The same address again (the page shows it again), and it is stored hashed only.
    with transaction(keyed.factory) as session:
        assert feeds.address(session, keyed.settings, lyon.id, NOW).url == lyon_url
        from web.models import CalendarFeed

        stored = session.query(CalendarFeed).filter_by(user_id=lyon.id).one()
        assert token_of(lyon_url) not in (stored.token_hash, stored.nonce)


def token_of(url: str) -> str:
    found = re.search(r"/calendar/([\w-]+)\.ics$", url)
    assert found, url
    return found.group(1)


# --- through the portal, the API and the command line -----------------------------------


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(db_url, tmp_path, NOW) as portal:
        yield portal


def test_the_feed_by_its_secret_address_renewed_from_the_account_page(live: Live) -> None:
    city = visitor(live.url, "valmiera@example.org")  # a member since 2016 (demo)
    other = visitor(live.url, "commission.fr@example.org")
    try:
        page = city.pages.get("/account/calendar")
        assert page.status_code == 200
        url = re.search(r'id="feed-url"[^>]*value="([^"]+)"', page.text)
        assert url, page.text[:3000]
        first = url.group(1)
        assert first.startswith(live.url + "/calendar/")
        assert "/account/calendar" in city.pages.get("/account").text
        with httpx.Client() as anyone:  # no sign-in needed
            got = anyone.get(first)
            assert got.status_code == 200
            assert got.headers["content-type"] == "text/calendar; charset=utf-8"
            cal = parse(got.content)
            days = report_days(cal)["Valmiera"]
            assert date(2028, 3, 31) in days and all(d.month == 3 and d.day == 31 for d in days)
            # The API says the same address; another user's is another, with other data.
            assert city.api.get("/api/v1/calendar").json()["url"] == first
            theirs = other.api.get("/api/v1/calendar").json()["url"]
            assert theirs != first and b"Valmiera" not in anyone.get(theirs).content
            # Renewing needs the confirmation; without it nothing changes.
            refused = city.post_form("/account/calendar/renew")
            assert refused.status_code == 303 and "done=" not in refused.headers["location"]
            assert anyone.get(first).status_code == 200
            renewed = city.post_form("/account/calendar/renew", {"confirm": "yes"})
            assert renewed.headers["location"] == "/account/calendar?done=calendar_renewed"
            assert anyone.get(first).status_code == 404, "the old address is dead"
            second = city.api.get("/api/v1/calendar").json()["url"]
            assert second != first and anyone.get(second).status_code == 200
            assert 'role="status"' in city.pages.get(renewed.headers["location"]).text
            # The API renews too.
            third = city.api.post("/api/v1/calendar")
            assert third.status_code == 200 and third.json()["url"] != second
            assert anyone.get(second).status_code == 404
            assert anyone.get(third.json()["url"]).status_code == 200
            # Unknown addresses.
            assert anyone.get(live.url + "/calendar/" + "x" * 43 + ".ics").status_code == 404
            assert anyone.get(live.url + "/calendar/nope.ics").status_code == 404
        assert httpx.get(live.url + "/api/v1/calendar").status_code == 401
        # The page and the feed in the owner's language.
        titles = {"fr": "Flux de calendrier", "lv": "Kalendāra plūsma", "ru": "Календарная лента"}
        due = {"fr": "Rapport d'étape attendu", "lv": "Progresa ziņojuma", "ru": "Срок отчёта"}
        for lang, title in titles.items():
            with live.factory.begin() as session:
                session.execute(
                    update(User).where(User.email == "valmiera@example.org").values(language=lang)
                )
            words = city.pages.get("/account/calendar").text
            assert f"<h1>{title}</h1>" in words and "calendar." not in words
            feed = icalendar.Calendar.from_ical(httpx.get(third.json()["url"]).content)
            summaries = [str(e["SUMMARY"]) for e in feed.walk("VEVENT")]
            assert summaries and all(s.startswith(due[lang]) for s in summaries), summaries
    finally:
        city.close()
        other.close()


def test_the_command_line_says_renews_and_prints_the_feed(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner(
        env={
            "GNLC_DATABASE__URL": db_url,
            "GNLC_MAIL__MAILDIR": str(tmp_path / "mail"),
            "GNLC_WEB__SECRET_KEY": KEY,
        }
    )
    examples = Path(__file__).parent.parent.parent / "docs" / "examples"
    for kind in ("countries", "cities"):
        assert (
            runner.invoke(gnlc_app, ["import", kind, str(examples / f"{kind}.csv")]).exit_code == 0
        )
    made = runner.invoke(
        gnlc_app,
        ["user", "add", "c@unesco.lv", "--name", "LV", "--role", "commission", "--country", "LV"],
    )  # fmt: skip
    assert made.exit_code == 0, made.output

    def run(*args: str) -> str:
        return run_bytes(*args).decode()

    def run_bytes(*args: str) -> bytes:
        result = runner.invoke(gnlc_app, ["calendar", *args, "--user", "c@unesco.lv"])
        assert result.exit_code == 0, result.output
        return result.stdout_bytes

    first = json.loads(run("url", "--json"))["url"]
    assert json.loads(run("url", "--json"))["url"] == first
    second = run("renew").strip().splitlines()[-1]
    assert second != first and second.endswith(".ics")
    assert json.loads(run("url", "--json"))["url"] == second
    cal = parse(run_bytes("show", "--now", "2027-05-10"))
    deadlines = {
        e.decoded("DTSTART").date()
        for e in cal.walk("VEVENT")
        if str(e["SUMMARY"]) == "Call 2027: Commission deadline"
    }
    assert deadlines == {date(2027, 5, 30)}
    missing = runner.invoke(gnlc_app, ["calendar", "url", "--user", "nobody@example.org"])
    assert missing.exit_code == 1 and "nobody@example.org" in missing.output


def test_a_new_member_counts_its_report_dates_from_its_announcement(keyed: World) -> None:
    """Decided in December 2026, announced on 14 February 2027: the feed shows no report
    until the announcement, then the first due on 31 March 2029 (two years from 2027, not
    from the decision's 2026)."""
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    app_id = keyed.draft("Jelgava", now)
    with transaction(keyed.factory) as session:
        submissions.submit(session, keyed.settings, keyed.city("Jelgava"), app_id, now=now)
        submissions.endorse(session, keyed.settings, World.commission("LV"), app_id, now=now)
        decisions.decide(session, keyed.settings, INSTITUTE, app_id, "start_review", now=now)
        decisions.decide(
            session, keyed.settings, INSTITUTE, app_id, "admit",
            now=datetime(2026, 12, 15, 10, tzinfo=UTC),
        )  # fmt: skip
    jelgava = _user(keyed, "j@jelgava.lv", "city", city_id=keyed.cities["Jelgava"])
    assert report_days(feed_of(keyed, jelgava)) == {}, "not a member before the announcement"
    with transaction(keyed.factory) as session:
        announcements.announce(
            session, keyed.settings, INSTITUTE, [app_id], on=date(2027, 2, 14),
            title="New members, February 2027", now=datetime(2027, 2, 14, 9, tzinfo=UTC),
        )  # fmt: skip
    cal = feed_of(keyed, jelgava)
    assert report_days(cal)["Jelgava"][:2] == [date(2029, 3, 31), date(2031, 3, 31)]
