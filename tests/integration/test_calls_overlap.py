"""No two calls that are not cancelled share a moment of their windows, on create and on
extend, also when two administrators create at once; a call's status from its dates; and
only what is still possible may be done (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import ADMIN, INSTITUTE, World, utc
from tests.integration.test_race import race
from workflow.db import transaction
from workflow.errors import CallOverlap, CallRefused
from workflow.models import Call
from workflow.services import calls
from workflow.services.calls import CallStatus


def create(world: World, name: str, opens: date, closes: date, **kw: object) -> Call:
    with transaction(world.factory) as session:
        return calls.create_call(
            session,
            world.settings,
            ADMIN,
            name=name,
            opens_on=opens,
            closes_on=closes,
            now=kw.pop("now", utc(2026, 1, 5)),  # type: ignore[arg-type]
            **kw,  # type: ignore[arg-type]
        )


def names(world: World) -> list[str]:
    with world.factory() as session:
        return list(session.scalars(select(Call.name).order_by(Call.opens_on)))


def test_create_refuses_an_overlap_across_years_and_names_the_other_call(world: World) -> None:
    create(world, "winter", date(2026, 11, 1), date(2027, 1, 31))
    # It opens in 2027, the other in 2026: the overlap is found all the same.
    with pytest.raises(CallOverlap) as refused:
        create(world, "early-2027", date(2027, 1, 15), date(2027, 2, 20))
    assert refused.value.params["other"] == "winter"
    assert refused.value.reason == "call_overlap"
    assert "would overlap call winter (01 November 2026 to 31 January 2027" in str(refused.value)
    # The next day after the last day is free; the annual 2027 call is not made over it.
    create(world, "february", date(2027, 2, 1), date(2027, 2, 20))
    assert names(world) == ["winter", "february"]


def test_the_windows_are_compared_as_instants_across_timezones(world: World) -> None:
    create(world, "berlin", date(2030, 3, 1), date(2030, 4, 30), timezone="Europe/Berlin")
    # 1 May in Auckland begins at 30 April 12:00 UTC: still Berlin's 30 April.
    with pytest.raises(CallOverlap, match="would overlap call berlin"):
        create(world, "auckland", date(2030, 5, 1), date(2030, 5, 31), timezone="Pacific/Auckland")
    create(world, "may", date(2030, 5, 1), date(2030, 5, 31), timezone="Europe/Berlin")


def test_a_cancelled_call_does_not_block_a_new_one(world: World) -> None:
    create(world, "first", date(2030, 3, 1), date(2030, 4, 30))
    with transaction(world.factory) as session:
        calls.cancel_call(session, ADMIN, "first", now=utc(2030, 1, 2), reason="budget")
    create(world, "second", date(2030, 3, 15), date(2030, 5, 15))


def test_extend_refuses_an_overlap_and_names_the_other_call(world: World) -> None:
    create(world, "spring", date(2030, 3, 1), date(2030, 4, 30))
    create(world, "summer", date(2030, 6, 1), date(2030, 6, 30))
    with pytest.raises(CallOverlap) as refused, transaction(world.factory) as session:
        calls.extend_call(
            session, INSTITUTE, "spring", now=utc(2030, 4, 1), closes_on=date(2030, 6, 15)
        )
    assert refused.value.params["other"] == "summer"
    with transaction(world.factory) as session:
        call = calls.extend_call(
            session, INSTITUTE, "spring", now=utc(2030, 4, 1), closes_on=date(2030, 5, 31)
        )
        assert (call.closes_on, call.commission_deadline) == (date(2030, 5, 31), date(2030, 6, 30))


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (utc(2030, 2, 28, 22, 59), CallStatus.UPCOMING),  # 23:59 in Berlin, 28 February
        (utc(2030, 2, 28, 23), CallStatus.OPEN),  # 1 March 00:00 in Berlin
        (utc(2030, 4, 30, 21, 59), CallStatus.OPEN),
        (utc(2030, 4, 30, 22), CallStatus.CLOSED),  # 1 May in Berlin (summer time)
        (utc(2030, 5, 30, 21, 59), CallStatus.CLOSED),
        (utc(2030, 5, 30, 22), CallStatus.FINISHED),
        (utc(2030, 6, 29, 21, 59), CallStatus.FINISHED),  # 30 days late: still repairable
        (utc(2030, 6, 29, 22), CallStatus.FINISHED),
    ],
)
def test_status_follows_the_dates(world: World, moment: datetime, expected: CallStatus) -> None:
    call = create(world, "c", date(2030, 3, 1), date(2030, 4, 30))
    assert call.commission_deadline == date(2030, 5, 30)
    line = calls.line(call, moment)
    assert line.status is expected
    assert line.can_extend_window == (expected in (CallStatus.UPCOMING, CallStatus.OPEN))
    assert line.can_cancel == (expected in (CallStatus.UPCOMING, CallStatus.OPEN))
    # The Commission deadline moves later until 30 days after it has passed, not after.
    assert line.can_extend_deadline == (moment < utc(2030, 6, 29, 22))


def test_a_closed_call_is_not_extended_or_cancelled_after_the_fact(world: World) -> None:
    create(world, "2030", date(2030, 3, 1), date(2030, 4, 30))
    closed = utc(2030, 5, 10)
    with pytest.raises(CallRefused) as refused, transaction(world.factory) as session:
        calls.extend_call(session, ADMIN, "2030", now=closed, closes_on=date(2030, 6, 30))
    assert refused.value.reason == "call.window_closed"
    with pytest.raises(CallRefused) as refused, transaction(world.factory) as session:
        calls.cancel_call(session, ADMIN, "2030", now=closed, reason="too late")
    assert refused.value.reason == "call.cannot_cancel"
    # While the Commissions decide, their deadline may still move later.
    with transaction(world.factory) as session:
        call = calls.extend_call(
            session, ADMIN, "2030", now=closed, commission_deadline=date(2030, 6, 15)
        )
        assert (call.closes_on, call.commission_deadline) == (date(2030, 4, 30), date(2030, 6, 15))
    # Thirty days after that deadline (15 June), the call is over for good.
    with pytest.raises(CallRefused) as refused, transaction(world.factory) as session:
        calls.extend_call(
            session, ADMIN, "2030", now=utc(2030, 7, 16), commission_deadline=date(2030, 7, 30)
        )
    assert refused.value.reason == "call.finished"
    with world.factory() as session:
        call = calls.by_name(session, "2030")
        assert (call.closes_on, call.commission_deadline, call.cancelled_at) == (
            date(2030, 4, 30),
            date(2030, 6, 15),
            None,
        )


def test_the_annual_rule_makes_no_call_over_a_stored_one(world: World) -> None:
    create(world, "long", date(2030, 12, 1), date(2031, 3, 15))
    with transaction(world.factory) as session:
        assert calls.ensure_year(session, world.settings, 2031, utc(2031, 1, 1)) == []
        assert [c.name for c in calls.ensure_year(session, world.settings, 2032, utc(2031, 1, 1))]
    assert names(world) == ["long", "2032"]


def test_two_creates_at_once_do_not_both_succeed(world: World) -> None:
    for round_ in range(3):
        year = 2040 + round_

        def make(name: str, opens: date, closes: date) -> Callable[[Session], object]:
            return lambda session: calls.create_call(
                session,
                world.settings,
                ADMIN,
                name=name,
                opens_on=opens,
                closes_on=closes,
                now=utc(2039, 1, 1),
            )

        outcomes = race(
            world,
            make(f"a{year}", date(year, 3, 1), date(year, 4, 30)),
            make(f"b{year}", date(year, 4, 1), date(year, 5, 31)),
        )
        assert outcomes.count("ok") == 1, outcomes
        assert [type(o) for o in outcomes if o != "ok"] == [CallOverlap], outcomes
    with world.factory() as session:
        stored = session.scalars(select(Call).where(Call.opens_on >= date(2040, 1, 1))).all()
        assert len(stored) == 3


def test_an_extend_and_a_create_at_once_do_not_both_succeed(world: World) -> None:
    create(world, "one", date(2050, 3, 1), date(2050, 3, 31))
    create(world, "two", date(2050, 5, 1), date(2050, 5, 31))

    def extend(name: str, closes: date) -> Callable[[Session], object]:
        return lambda session: calls.extend_call(
            session, ADMIN, name, now=utc(2049, 1, 1), closes_on=closes
        )

    # "one" grows to 20 April while a new call claims 10-25 April: only one of them.
    outcomes = race(
        world,
        extend("one", date(2050, 4, 20)),
        lambda session: calls.create_call(
            session,
            world.settings,
            ADMIN,
            name="gap",
            opens_on=date(2050, 4, 10),
            closes_on=date(2050, 4, 25),
            now=utc(2049, 1, 1),
        ),
    )
    assert outcomes.count("ok") == 1, outcomes
    assert all(isinstance(o, CallOverlap) for o in outcomes if o != "ok"), outcomes
