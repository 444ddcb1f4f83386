"""Role and scope on SQLite and PostgreSQL: each actor acts only on what is theirs, a
refusal changes nothing, and lists show only what the actor may see."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notifications.models import OutboxMessage
from tests.conftest import ADMIN, INSTITUTE, World, utc
from workflow import member_views, views
from workflow.actors import Actor
from workflow.db import transaction
from workflow.errors import NotAllowed
from workflow.models import Application, AuditEvent, Membership, Report
from workflow.services import applications as apps
from workflow.services import decisions, directory, memberships, submissions
from workflow.services import reports as report_service
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
        submissions.submit(session, world.settings, world.city(city), app_id, now=NOW)
    return app_id


def test_city_cannot_act_on_another_citys_application(world: World) -> None:
    s, valmiera = world.settings, world.city("Valmiera")
    draft = world.draft("Jelgava", NOW)
    other = "belongs to another city"
    refused(world, lambda x: submissions.submit(x, s, valmiera, draft, now=NOW), other)
    refused(
        world,
        lambda x: submissions.submit_direct(x, s, valmiera, draft, now=NOW, endorsement="E"),
    )
    refused(world, lambda x: decisions.decide(x, s, valmiera, draft, "withdraw", now=NOW), other)
    refused(world, lambda x: apps.update_draft(x, s, valmiera, draft, now=NOW, motivation="m"))
    refused(world, lambda x: apps.get_application(x, valmiera, draft), other)
    refused(world, lambda x: apps.history(x, valmiera, draft), other)
    # a city from another country is refused the same way
    refused(world, lambda x: submissions.submit(x, s, world.city("Lyon"), draft, now=NOW), other)


def test_commission_cannot_act_on_another_countrys_application(world: World) -> None:
    s, estonia = world.settings, World.commission("EE")
    app_id = submitted(world, "Jelgava")
    other = "another country; your Commission acts only for EE"
    refused(world, lambda x: submissions.endorse(x, s, estonia, app_id, now=NOW), other)
    for trigger in ("return_to_city", "decline"):
        refused(
            world,
            lambda x, t=trigger: decisions.decide(x, s, estonia, app_id, t, now=NOW, comment="c"),  # type: ignore[misc]
            other,
        )
    refused(world, lambda x: apps.get_application(x, estonia, app_id), other)


def test_wrong_roles_are_refused(world: World) -> None:
    s = world.settings
    app_id = submitted(world, "Jelgava")
    jelgava, latvia = world.city("Jelgava"), World.commission("LV")
    refused(
        world,
        lambda x: submissions.endorse(x, s, jelgava, app_id, now=NOW),
        "National Commission",
    )
    refused(world, lambda x: decisions.decide(x, s, latvia, app_id, "start_review", now=NOW))
    refused(world, lambda x: decisions.decide(x, s, ADMIN, app_id, "decline", now=NOW, comment="c"))
    draft = world.draft("Valmiera", NOW)
    refused(world, lambda x: submissions.submit(x, s, INSTITUTE, draft, now=NOW), "Only the city")
    refused(world, lambda x: submissions.submit(x, s, latvia, draft, now=NOW), "Only the city")
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
        lambda x: report_service.submit_report(x, s, valmiera, rid, now=later, summary="mine"),
        "belongs to another city",
    )
    refused(world, lambda x: report_service.get_report(x, tartu_commission, rid))
    refused(
        world,
        lambda x: memberships.change_membership(
            x, s, valmiera, membership_id, "withdraw", now=later
        ),
    )
    refused(world, lambda x: report_service.reports_of(x, valmiera, membership_id))
    with world.factory() as session:
        report = session.get(Report, rid)
        assert report is not None and report.state == "open" and report.summary == ""
        membership = session.get(Membership, membership_id)
        assert membership is not None and membership.state == "active"

        def members(actor: Actor) -> list[int]:
            return [m.id for m in member_views.member_lines(session, s, actor, later)]

        def reports(actor: Actor) -> list[int]:
            return [r.id for r in member_views.list_reports(session, actor)]

        assert members(valmiera) == [] and reports(valmiera) == []
        assert members(world.city("Jelgava")) == [membership_id]
        assert reports(world.city("Jelgava")) == [rid]
        assert members(tartu_commission) == [] and reports(tartu_commission) == []
        assert members(World.commission("LV")) == [membership_id]
        assert reports(World.commission("LV")) == reports(INSTITUTE) == [rid]
        assert member_views.count_members(session, valmiera) == 0
        assert member_views.count_members(session, World.commission("LV")) == 1
        # The home page's counts, joined only as far as each scope reads (a city by its
        # membership, a Commission by its cities' country, the Institute not at all).
        for actor, seen in (
            (valmiera, False),
            (world.city("Jelgava"), True),
            (tartu_commission, False),
            (World.commission("LV"), True),
            (INSTITUTE, True),
            (ADMIN, True),
        ):
            assert member_views.member_counts(session, actor) == ({"active": 1} if seen else {})
            assert member_views.report_counts(session, actor) == ({"open": 1} if seen else {})


def test_lists_show_only_what_the_actor_may_see(world: World) -> None:
    ids = {name: world.draft(name, NOW) for name in ("Jelgava", "Valmiera", "Tartu", "Lyon")}
    with world.factory() as session:

        def seen(actor: Actor) -> set[int]:
            found = {a.id for a in views.list_applications(session, actor)}
            lines = {a.id for a in views.queue_lines(session, actor, limit=100)}
            assert lines == found and views.count_applications(session, actor) == len(found)
            return found

        assert seen(world.city("Jelgava")) == {ids["Jelgava"]}
        assert seen(world.city("Lyon")) == {ids["Lyon"]}
        assert seen(World.commission("LV")) == {ids["Jelgava"], ids["Valmiera"]}
        assert seen(World.commission("EE")) == {ids["Tartu"]}
        assert seen(World.commission("DE")) == set()
        assert seen(INSTITUTE) == set(ids.values())
        assert seen(ADMIN) == set(ids.values())
        # a filter cannot widen the scope
        jelgava = world.city("Jelgava")
        estonia = views.ApplicationFilter(country="EE")
        france = views.ApplicationFilter(country="FR")
        assert views.list_applications(session, jelgava, estonia) == []
        latvia = World.commission("LV")
        assert views.list_applications(session, latvia, france) == []
        assert views.queue_lines(session, latvia, france) == []
        # cities: a city sees itself, a Commission its country's, the Institute all
        assert [c.name for c in member_views.list_cities(session, jelgava)] == ["Jelgava"]
        assert [c.name for c in member_views.list_cities(session, latvia)] == [
            "Jelgava",
            "Valmiera",
        ]
        assert len(member_views.list_cities(session, INSTITUTE)) == 4
        assert member_views.list_cities(session, latvia, country="EE") == []


def test_actor_needs_a_scope() -> None:
    with pytest.raises(ValueError, match="city_id"):
        Actor(Role.CITY, "nobody")
    with pytest.raises(ValueError, match="country_code"):
        Actor(Role.COMMISSION, "nobody")
