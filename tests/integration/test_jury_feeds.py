"""A juror's calendar feed (SQLite and PostgreSQL): the review deadline of each call they
have assignments in, an all-day event on the call's date, in the juror's language; none
for a call whose assignment they declined, nor for another juror's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.conftest import ADMIN, INSTITUTE, World
from tests.integration.test_calendar_feeds import KEY, events, parse
from tests.integration.test_jury import IN_2027, act, call_name, forwarded
from web import feeds
from workflow.db import transaction
from workflow.models import User
from workflow.services import jury, users

NOW = datetime(2027, 5, 10, 12, tzinfo=UTC)


def juror(world: World, name: str, code: str, language: str) -> int:
    with transaction(world.factory) as session:
        user = users.create_user(
            session,
            ADMIN,
            email=f"{name}@example.org",
            name=name,
            role="juror",
            country_code=code,
            language=language,
            now=IN_2027,
        )
        return user.id


def feed(world: World, user_id: int) -> dict[str, Any]:
    with transaction(world.factory) as session:
        user = session.get(User, user_id)
        assert user is not None
        return events(parse(feeds.calendar(session, world.settings, user, NOW)))


def test_a_jurors_feed_shows_the_review_deadlines_of_their_calls(world: World) -> None:
    world.settings = world.settings.with_overrides(web={"secret_key": KEY})
    lyon, tartu = forwarded(world, "Lyon"), forwarded(world, "Tartu")
    call = call_name(world, lyon)
    mine, other, quitter = (
        juror(world, "ana", "LV", "fr"),
        juror(world, "ben", "LV", "en"),
        juror(world, "cas", "EE", "en"),
    )
    act(world, jury.assign, INSTITUTE, lyon, mine, now=IN_2027)
    declined = act(world, jury.assign, INSTITUTE, lyon, quitter, now=IN_2027)
    with transaction(world.factory) as session:
        found = session.get(User, quitter)
        assert found is not None
        quitter_actor = users.actor_for(found)
    act(world, jury.decline, quitter_actor, declined.id, reason="Conflict.", now=IN_2027)
    assert act(world, jury.assign, INSTITUTE, tartu, other, now=IN_2027).state == "assigned"
    # No review deadline yet: nothing to show.
    assert feed(world, mine) == {}
    with transaction(world.factory) as session:
        jury.set_review_deadline(session, INSTITUTE, call, date(2027, 6, 30), now=NOW)
        call_id = jury.assignments_of_call(session, INSTITUTE, call)[0].application.call_id

    shown = feed(world, mine)
    assert list(shown) == [f"call-{call_id}-review-deadline"]
    (event,) = shown.values()
    day = event.decoded("DTSTART")
    assert type(day) is date and day == date(2027, 6, 30)
    assert event.decoded("DTEND") == day + timedelta(days=1)
    assert str(event["SUMMARY"]) == f"Appel {call} : notes du jury attendues"
    assert str(event["URL"]).endswith("/jury")
    # Ben has Tartu of the same call: the same deadline, in English; Cas declined: none.
    (ben,) = feed(world, other).values()
    assert "the jury's scores due" in str(ben["SUMMARY"])
    assert feed(world, quitter) == {}
