"""Role and scope on SQLite and PostgreSQL: each actor acts only on what is theirs, a
refusal changes nothing, and lists show only what the actor may see."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import ADMIN, INSTITUTE, World, utc
from workflow.actors import Actor
from workflow.db import transaction
from workflow.errors import NotAllowed
from workflow.models import Application, AuditEvent, Membership, OutboxMessage, Report
from workflow.services import applications as apps
from workflow.services import directory, memberships
from workflow.states import Role

NOW = utc(2027, 3, 2, 9)


def snapshot(session: Session) -> tuple[object, ...]:
    """Everything a refused action must leave alone."""
    states = tuple(session.execute(select(Application.id, Application.state, Application.version)))
    return (
        states,
        session.scalar(select(func.count(AuditEvent.id))),
        session.scalar(select(func.count(OutboxMessage.id))),
    )


def refused(world: World, action: Callable[[Session], object], match: str | None = None) -> None:
    with world.factory() as session:
        before = snapshot(session)
    with pytest.raises(NotAllowed, match=match), transaction(world.factory) as session:
        action(session)
    with world.factory() as session:
        assert snapshot(session) == before


def submitted(world: World, city: str) -> int:
    app_id = world.draft(city, NOW)
    with transaction(world.factory) as session:
        apps.submit(session, world.settings, world.city(city), app_id, now=NOW)
    return app_id


def test_city_cannot_act_on_another_citys_application(world: World) -> None:
    s, valmiera = world.settings, world.city("Valmiera")
    draft = world.draft("Jelgava", NOW)
    other = "belongs to another city"
    refused(world, lambda x: apps.submit(x, s, valmiera, draft, now=NOW), other)
    refused(world, lambda x: apps.submit_direct(x, s, valmiera, draft, now=NOW, endorsement="E"))
    refused(world, lambda x: apps.decide(x, s, valmiera, draft, "withdraw", now=NOW), other)
    refused(world, lambda x: apps.update_draft(x, s, valmiera, draft, now=NOW, motivation="m"))
    refused(world, lambda x: apps.get_application(x, valmiera, draft), other)
    refused(world, lambda x: apps.history(x, valmiera, draft), other)
    # a city from another country is refused the same way
    refused(world, lambda x: apps.submit(x, s, world.city("Lyon"), draft, now=NOW), other)


def test_commission_cannot_act_on_another_countrys_application(world: World) -> None:
    s, estonia = world.settings, World.commission("EE")
    app_id = submitted(world, "Jelgava")
    other = "another country; your Commission acts only for EE"
    refused(world, lambda x: apps.endorse(x, s, estonia, app_id, now=NOW), other)
    for trigger in ("return_to_city", "decline"):
        refused(
            world,
            lambda x, t=trigger: apps.decide(x, s, estonia, app_id, t, now=NOW, comment="c"),  # type: ignore[misc]
            other,
        )
    refused(world, lambda x: apps.get_application(x, estonia, app_id), other)


def test_wrong_roles_are_refused(world: World) -> None:
    s = world.settings
    app_id = submitted(world, "Jelgava")
    jelgava, latvia = world.city("Jelgava"), World.commission("LV")
    refused(world, lambda x: apps.endorse(x, s, jelgava, app_id, now=NOW), "National Commission")
    refused(world, lambda x: apps.decide(x, s, latvia, app_id, "start_review", now=NOW))
    refused(world, lambda x: apps.decide(x, s, ADMIN, app_id, "decline", now=NOW, comment="c"))
    draft = world.draft("Valmiera", NOW)
    refused(world, lambda x: apps.submit(x, s, INSTITUTE, draft, now=NOW), "Only the city")
    refused(world, lambda x: apps.submit(x, s, latvia, draft, now=NOW), "Only the city")
    refused(world, lambda x: apps.create_draft(x, s, INSTITUTE, now=NOW), "Only city")
    refused(world, lambda x: apps.create_draft(x, s, latvia, now=NOW), "Only city")


def test_city_cannot_touch_another_citys_report_or_membership(world: World) -> None:
    s = world.settings
    with transaction(world.factory) as session:
        city = directory.find_city(session, "LV/Jelgava")
        member = memberships.import_member(
            session, s, ADMIN, city, admitted_on=date(2016, 5, 1), now=utc(2027, 12, 15)
        )
        membership_id = member.id
    with world.factory() as session:
        rid = session.scalars(select(Report.id).where(Report.membership_id == membership_id)).one()
    valmiera, tartu_commission = world.city("Valmiera"), World.commission("EE")
    later = utc(2028, 3, 1)
    refused(
        world,
        lambda x: memberships.submit_report(x, s, valmiera, rid, now=later, summary="mine"),
        "belongs to another city",
    )
    refused(world, lambda x: memberships.get_report(x, tartu_commission, rid))
    refused(
        world,
        lambda x: memberships.change_membership(
            x, s, valmiera, membership_id, "withdraw", now=later
        ),
    )
    refused(world, lambda x: memberships.reports_of(x, valmiera, membership_id))
    with world.factory() as session:
        report = session.get(Report, rid)
        assert report is not None and report.state == "open" and report.summary == ""
        membership = session.get(Membership, membership_id)
        assert membership is not None and membership.state == "active"
        assert memberships.list_members(session, valmiera) == []
        assert [m.id for m in memberships.list_members(session, world.city("Jelgava"))] == [
            membership_id
        ]
        assert memberships.list_members(session, tartu_commission) == []


def test_lists_show_only_what_the_actor_may_see(world: World) -> None:
    ids = {name: world.draft(name, NOW) for name in ("Jelgava", "Valmiera", "Tartu", "Lyon")}
    with world.factory() as session:

        def seen(actor: Actor) -> set[int]:
            return {a.id for a in apps.list_applications(session, actor)}

        assert seen(world.city("Jelgava")) == {ids["Jelgava"]}
        assert seen(world.city("Lyon")) == {ids["Lyon"]}
        assert seen(World.commission("LV")) == {ids["Jelgava"], ids["Valmiera"]}
        assert seen(World.commission("EE")) == {ids["Tartu"]}
        assert seen(World.commission("DE")) == set()
        assert seen(INSTITUTE) == set(ids.values())
        assert seen(ADMIN) == set(ids.values())
        # a filter cannot widen the scope
        jelgava = world.city("Jelgava")
        assert {a.id for a in apps.list_applications(session, jelgava, country="EE")} == set()
        latvia = World.commission("LV")
        assert apps.list_applications(session, latvia, country="FR") == []


def test_actor_needs_a_scope() -> None:
    with pytest.raises(ValueError, match="city_id"):
        Actor(Role.CITY, "nobody")
    with pytest.raises(ValueError, match="country_code"):
        Actor(Role.COMMISSION, "nobody")
