"""Calls as data on SQLite and PostgreSQL: generated from the annual rule, created,
extended and cancelled by an administrator, refused to anyone else."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from tests.conftest import ADMIN, INSTITUTE, World, utc
from workflow.db import transaction
from workflow.errors import Conflict, InvalidInput, NotAllowed, OutsideWindow
from workflow.models import Application, AuditEvent, Call
from workflow.services import applications as apps
from workflow.services import calls, submissions


def submit(world: World, app_id: int, now: datetime) -> None:
    with transaction(world.factory) as session:
        submissions.submit(session, world.settings, world.city("Jelgava"), app_id, now=now)


def test_default_call_generated_from_the_rule(world: World) -> None:
    with transaction(world.factory) as session:
        listed = calls.list_calls(session, world.settings, utc(2027, 1, 10))
        by_name = {c.name: c for c in listed}
        call = by_name["2027"]
        assert (call.opens_on, call.closes_on, call.commission_deadline) == (
            date(2027, 3, 1),
            date(2027, 4, 30),
            date(2027, 5, 30),
        )
        assert (call.quota, call.timezone, call.generated) == (3, "Europe/Berlin", True)
        assert "2028" in by_name
    # asking again does not create duplicates
    with transaction(world.factory) as session:
        again = calls.list_calls(session, world.settings, utc(2027, 2, 1))
        assert [c.name for c in again] == [c.name for c in listed]


def test_operator_settings_shape_the_generated_call(world: World) -> None:
    custom = world.settings.with_overrides(
        calls={"quota": 4, "close_month": 6, "close_day": 30, "timezone": "Europe/Riga"}
    )
    with transaction(world.factory) as session:
        (call,) = calls.ensure_year(session, custom, 2020, utc(2020, 1, 1))
        assert (call.closes_on, call.commission_deadline, call.quota, call.timezone) == (
            date(2020, 6, 30),
            date(2020, 7, 30),
            4,
            "Europe/Riga",
        )


def test_admin_creates_a_call_that_replaces_the_rule_for_its_year(world: World) -> None:
    with transaction(world.factory) as session:
        call = calls.create_call(
            session,
            world.settings,
            ADMIN,
            name="2021",
            opens_on=date(2021, 9, 1),
            closes_on=date(2021, 11, 30),
            timezone="Europe/Riga",
            now=utc(2021, 6, 1),
        )
        assert (call.commission_deadline, call.quota, call.generated) == (
            date(2021, 12, 30),
            3,
            False,
        )
        event = session.scalars(select(AuditEvent).where(AuditEvent.subject_type == "call")).one()
        assert (event.action, event.role) == ("create", "admin")
    # the rule no longer adds a March call to 2021
    with transaction(world.factory) as session:
        assert [
            c.name for c in calls.ensure_year(session, world.settings, 2021, utc(2021, 7, 1))
        ] == ["2021"]
    # in March 2021 the next open call is the September one
    app_id = world.draft("Jelgava", utc(2021, 3, 15))
    window = r"01 September 2021 to 30 November 2021 \(23:59:59 Europe/Riga\)"
    with pytest.raises(OutsideWindow, match=window):
        submit(world, app_id, utc(2021, 3, 15))
    with pytest.raises(OutsideWindow, match=window):
        submit(world, app_id, utc(2021, 11, 30, 22))  # 1 December 00:00 in Riga (UTC+2)
    submit(world, app_id, utc(2021, 11, 30, 21, 59, 59))


@pytest.mark.parametrize(
    ("opens", "closes", "message"),
    [
        (date(2027, 4, 1), date(2027, 6, 30), "would overlap call 2027"),
        (date(2027, 2, 1), date(2027, 3, 1), "would overlap call 2027"),
        (date(2027, 6, 1), date(2027, 5, 1), "closes .* before it opens"),
    ],
)
def test_overlapping_or_inverted_call_refused(
    world: World, opens: date, closes: date, message: str
) -> None:
    with transaction(world.factory) as session:
        calls.ensure_year(session, world.settings, 2027, utc(2027, 1, 1))
    with pytest.raises(InvalidInput, match=message), transaction(world.factory) as session:
        calls.create_call(
            session,
            world.settings,
            ADMIN,
            name="extra",
            opens_on=opens,
            closes_on=closes,
            now=utc(2027, 1, 2),
        )
    with world.factory() as session:
        assert session.scalars(select(Call.name)).all() == ["2027"]


def test_duplicate_name_and_bad_values_refused(world: World) -> None:
    def create(**kw: object) -> None:
        values: dict[str, object] = {
            "name": "special",
            "opens_on": date(2030, 9, 1),
            "closes_on": date(2030, 9, 30),
            "now": utc(2030, 1, 1),
            **kw,
        }
        with transaction(world.factory) as session:
            calls.create_call(session, world.settings, ADMIN, **values)  # type: ignore[arg-type]

    create()
    with pytest.raises(Conflict, match="exists"):
        create(opens_on=date(2030, 11, 1), closes_on=date(2030, 11, 30))
    with pytest.raises(InvalidInput, match="timezone"):
        create(name="tz", opens_on=date(2030, 11, 1), closes_on=date(2030, 11, 30), timezone="X/Y")
    with pytest.raises(InvalidInput, match="quota"):
        create(name="q", opens_on=date(2030, 11, 1), closes_on=date(2030, 11, 30), quota=0)


@pytest.mark.parametrize("who", ["city", "commission"])
def test_only_admin_or_institute_manage_calls(world: World, who: str) -> None:
    actor = world.city("Jelgava") if who == "city" else World.commission("LV")
    with pytest.raises(NotAllowed), transaction(world.factory) as session:
        calls.create_call(
            session,
            world.settings,
            actor,
            name="mine",
            opens_on=date(2030, 9, 1),
            closes_on=date(2030, 9, 30),
            now=utc(2030, 1, 1),
        )
    with transaction(world.factory) as session:
        calls.ensure_year(session, world.settings, 2027, utc(2027, 1, 1))
    with pytest.raises(NotAllowed), transaction(world.factory) as session:
        calls.extend_call(session, actor, "2027", now=utc(2027, 4, 1), closes_on=date(2027, 6, 30))
    with pytest.raises(NotAllowed), transaction(world.factory) as session:
        calls.cancel_call(session, actor, "2027", now=utc(2027, 4, 1), reason="no")
    with world.factory() as session:
        call = calls.by_name(session, "2027")
        assert (call.closes_on, call.cancelled_at) == (date(2027, 4, 30), None)
        assert session.scalars(select(Call.name)).all() == ["2027"]


def test_extension_lets_cities_submit_later(world: World) -> None:
    # 2020: the call was extended to 30 June
    app_id = world.draft("Jelgava", utc(2020, 3, 5))
    late = utc(2020, 6, 15)
    with pytest.raises(OutsideWindow), transaction(world.factory) as session:
        submissions.submit(session, world.settings, world.city("Jelgava"), app_id, now=late)
    with transaction(world.factory) as session:
        call = calls.extend_call(
            session, INSTITUTE, "2020", now=utc(2020, 4, 20), closes_on=date(2020, 6, 30)
        )
        # the Commission deadline moves with the close by default
        assert call.commission_deadline == date(2020, 7, 30)
    with (
        pytest.raises(InvalidInput, match="cannot end earlier"),
        transaction(world.factory) as session,
    ):
        calls.extend_call(session, ADMIN, "2020", now=utc(2020, 4, 21), closes_on=date(2020, 5, 1))
    with transaction(world.factory) as session:
        submissions.submit(session, world.settings, world.city("Jelgava"), app_id, now=late)
    with world.factory() as session:
        app = session.get(Application, app_id)
        assert app is not None and app.state == "submitted"
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject_type == "call")
        ).all()
        assert actions == ["extend"]


def test_stale_version_of_a_call_is_a_conflict(world: World) -> None:
    with transaction(world.factory) as session:
        (call,) = calls.ensure_year(session, world.settings, 2027, utc(2027, 1, 1))
        seen = call.version
    with transaction(world.factory) as session:
        calls.extend_call(session, ADMIN, "2027", now=utc(2027, 4, 1), closes_on=date(2027, 5, 15))
    with pytest.raises(Conflict), transaction(world.factory) as session:
        calls.cancel_call(session, ADMIN, "2027", now=utc(2027, 4, 2), reason="x", version=seen)


def test_cancelled_call_refuses_submission(world: World) -> None:
    app_id = world.draft("Jelgava", utc(2027, 3, 2))
    with pytest.raises(InvalidInput, match="Say why"), transaction(world.factory) as session:
        calls.cancel_call(session, ADMIN, "2027", now=utc(2027, 3, 3), reason="  ")
    with transaction(world.factory) as session:
        calls.cancel_call(session, ADMIN, "2027", now=utc(2027, 3, 3), reason="Budget freeze")
    with pytest.raises(InvalidInput, match=r"Call 2027 was cancelled \(Budget freeze\)"):
        submit(world, app_id, utc(2027, 3, 4))
    with (
        pytest.raises(InvalidInput, match="already cancelled"),
        transaction(world.factory) as session,
    ):
        calls.cancel_call(session, ADMIN, "2027", now=utc(2027, 3, 5), reason="again")
    with pytest.raises(InvalidInput, match="cancelled"), transaction(world.factory) as session:
        calls.extend_call(session, ADMIN, "2027", now=utc(2027, 3, 5), closes_on=date(2027, 6, 1))
    # a new draft goes to the next live call, not the cancelled one
    with transaction(world.factory) as session:
        fresh = apps.create_draft(
            session, world.settings, world.city("Valmiera"), now=utc(2027, 3, 6)
        )
        assert fresh.call.name == "2028"
