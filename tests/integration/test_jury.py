"""The expert jury on SQLite and PostgreSQL: jurors invited with their own country, never
given an application of it; spreading evenly; a juror sees only what is assigned to them;
declining with a reason and reassigning; scoring every criterion 1-5, blind until one's own
scores are in; the Institute's means, spread and ranking; the decision records the jury's
recommendation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import ADMIN, INSTITUTE, World, utc
from web.catalogue import runtime_ids
from workflow.actors import Actor
from workflow.db import transaction
from workflow.errors import InvalidInput, NotAllowed, WorkflowError
from workflow.models import Application, AuditEvent, JuryAssignment
from workflow.services import applications as apps
from workflow.services import decisions, jury, submissions, users
from workflow.services.directory import FieldInvalid
from workflow.states import Role
from workflow.visibility import visible_applications, visible_cities, visible_memberships

IN_2027 = utc(2027, 3, 2, 9)
LATER = utc(2027, 6, 1, 9)
CALL = "2027"
JURORS = {"lv": "LV", "fr": "FR", "ee": "EE", "fr2": "FR"}
ALL_FIVE = dict.fromkeys(
    ("commitment", "good_practice", "vision", "implementation_plan", "monitoring"), 4
)


def act(world: World, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with transaction(world.factory) as session:
        return fn(session, world.settings, *args, **kwargs)


def refused(world: World, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> WorkflowError:
    with pytest.raises(WorkflowError) as caught:
        act(world, fn, *args, **kwargs)
    return caught.value


def forwarded(world: World, city: str) -> int:
    app_id = world.draft(city, IN_2027)
    act(world, submissions.submit, world.city(city), app_id, now=IN_2027)
    code = {"Jelgava": "LV", "Valmiera": "LV", "Tartu": "EE", "Lyon": "FR"}[city]
    act(world, submissions.endorse, World.commission(code), app_id, now=IN_2027, comment="ok")
    return app_id


def jurors(world: World) -> dict[str, Actor]:
    found = {}
    with transaction(world.factory) as session:
        for name, code in JURORS.items():
            user = users.create_user(
                session,
                ADMIN,
                email=f"{name}.juror@example.org",
                name=f"Juror {name}",
                role="juror",
                country_code=code,
                now=IN_2027,
            )
            found[name] = users.actor_for(user)
    return found


def call_name(world: World, app_id: int) -> str:
    with world.factory() as session:
        found = session.get(Application, app_id)
        assert found is not None
        return found.call.name


def open_of(world: World, app_id: int) -> list[str]:
    with world.factory() as session:
        return [
            a.juror.email
            for a in session.scalars(
                select(JuryAssignment).where(
                    JuryAssignment.application_id == app_id,
                    JuryAssignment.state.in_(jury.OPEN),
                )
            )
        ]


def assignment(world: World, app_id: int, juror: Actor) -> int:
    with world.factory() as session:
        found = session.scalars(
            select(JuryAssignment.id).where(
                JuryAssignment.application_id == app_id, JuryAssignment.juror_id == juror.user_id
            )
        ).one()
        return int(found)


def test_the_default_criteria_are_the_public_ones_with_words(world: World) -> None:
    assert tuple(world.settings.jury.criteria) == jury.DEFAULT_CRITERIA
    assert world.settings.jury.jurors_per_application == 3
    ids = runtime_ids()
    assert {f"jury.criterion.{c}" for c in jury.DEFAULT_CRITERIA} <= ids
    assert {"role.juror", "jury.criterion.commitment", "action.assignment.submit_scores"} <= ids


def test_a_juror_needs_their_own_country(world: World) -> None:
    with transaction(world.factory) as session, pytest.raises(FieldInvalid) as caught:
        users.create_user(
            session, ADMIN, email="j@example.org", name="J", role="juror", now=IN_2027
        )
    assert caught.value.reason == "invalid_input.juror_country_needed"
    with pytest.raises(ValueError, match="juror"):
        Actor(Role.JUROR, "no scope", 7)


def test_one_call_with_its_jury(world: World) -> None:
    ids = {c: forwarded(world, c) for c in ("Jelgava", "Valmiera", "Tartu", "Lyon")}
    call = call_name(world, ids["Jelgava"])
    people = jurors(world)

    # conflicts of interest: never a juror of the city's own country
    error = refused(
        world, jury.assign, INSTITUTE, ids["Jelgava"], "lv.juror@example.org", now=LATER
    )
    assert error.reason == "invalid_input.own_country"
    assert error.params["country"] == "LV"
    # only the Institute and administrators assign
    error = refused(
        world,
        jury.assign,
        World.commission("EE"),
        ids["Jelgava"],
        "ee.juror@example.org",
        now=LATER,
    )
    assert error.reason == "forbidden.role_for"
    # a juror is a user of role juror
    error = refused(world, jury.spread, people["ee"], call, now=LATER)
    assert isinstance(error, NotAllowed)

    # spread evenly: 2 jurors each, none of the city's country, loads differ by at most one
    done = act(world, jury.spread, INSTITUTE, call, now=LATER, per_application=2)
    assert len(done.created) == 8 and done.short == {}
    load: Counter[str] = Counter()
    for city, app_id in ids.items():
        given = open_of(world, app_id)
        assert len(given) == 2, city
        country = {"Jelgava": "LV", "Valmiera": "LV", "Tartu": "EE", "Lyon": "FR"}[city]
        assert all(JURORS[e.split(".")[0]] != country for e in given), (city, given)
        load.update(given)
    assert max(load.values()) - min(load.values()) <= 1, load
    # spreading again changes nothing
    assert act(world, jury.spread, INSTITUTE, call, now=LATER, per_application=2).created == []

    # a juror sees only the applications assigned to them, and no city, member or report
    ee = people["ee"]
    mine = {a for a in ids.values() if "ee.juror@example.org" in open_of(world, a)}
    assert ids["Tartu"] not in mine and mine
    with world.factory() as session:
        seen = {a.id for a in session.scalars(visible_applications(ee))}
        assert seen == mine
        assert list(session.scalars(visible_cities(ee))) == []
        assert list(session.scalars(visible_memberships(ee))) == []
        with pytest.raises(NotAllowed) as caught:
            apps.get_application(session, ee, ids["Tartu"])
        assert caught.value.reason == "forbidden.not_assigned"
        assert apps.get_application(session, ee, next(iter(mine))).id in mine
        # every other role sees as before
        assert {a.id for a in session.scalars(visible_applications(World.commission("LV")))} == {
            ids["Jelgava"],
            ids["Valmiera"],
        }
        assert len(list(session.scalars(visible_applications(INSTITUTE)))) == 4

    # Valmiera: its two jurors; one declines (a reason is required), the Institute reassigns
    lyon = ids["Valmiera"]
    first, second = sorted(open_of(world, lyon))
    by_email = {f"{n}.juror@example.org": a for n, a in people.items()}
    decliner, scorer = by_email[first], by_email[second]
    error = refused(
        world, jury.decline, decliner, assignment(world, lyon, decliner), reason=" ", now=LATER
    )
    assert error.reason == "invalid_input.comment_needed"
    act(
        world,
        jury.decline,
        decliner,
        assignment(world, lyon, decliner),
        reason="I advised Valmiera in 2026.",
        now=LATER,
    )
    declined_id = assignment(world, lyon, decliner)
    with world.factory() as session:
        with pytest.raises(NotAllowed):
            apps.get_application(session, decliner, lyon)
        declined = session.get(JuryAssignment, declined_id)
        assert declined is not None and declined.state == "declined"
        assert declined.reason == "I advised Valmiera in 2026."
    error = refused(world, jury.assign, INSTITUTE, lyon, first, now=LATER)
    assert error.reason == "invalid_input.already_assigned"
    again = act(world, jury.spread, INSTITUTE, call, now=LATER, per_application=2)
    assert [a.application_id for a in again.created] == [lyon]
    assert first not in open_of(world, lyon) and len(open_of(world, lyon)) == 2
    third_email = next(e for e in open_of(world, lyon) if e != second)
    third = by_email[third_email]

    # scoring: every criterion, 1-5, a recommendation; on one's own assignment only
    mine_id = assignment(world, lyon, scorer)
    error = refused(
        world,
        jury.submit_scores,
        scorer,
        mine_id,
        scores={"vision": 4},
        recommendation="admit",
        now=LATER,
    )
    assert error.reason == "invalid_input.scores_missing"
    assert "commitment" in error.params["criteria"]  # type: ignore[operator]
    error = refused(
        world,
        jury.submit_scores,
        scorer,
        mine_id,
        scores={**ALL_FIVE, "vision": 6},
        recommendation="admit",
        now=LATER,
    )
    assert error.reason == "invalid_input.score_range"
    error = refused(
        world,
        jury.submit_scores,
        scorer,
        mine_id,
        scores=ALL_FIVE,
        recommendation="maybe",
        now=LATER,
    )
    assert error.reason == "invalid_input.not_recommendation"
    error = refused(
        world,
        jury.submit_scores,
        third,
        mine_id,
        scores=ALL_FIVE,
        recommendation="admit",
        now=LATER,
    )
    assert error.reason == "forbidden.not_assigned"
    error = refused(
        world,
        jury.submit_scores,
        INSTITUTE,
        mine_id,
        scores=ALL_FIVE,
        recommendation="admit",
        now=LATER,
    )
    assert error.reason == "forbidden.role_for"

    act(
        world,
        jury.submit_scores,
        scorer,
        mine_id,
        scores={**ALL_FIVE, "monitoring": 2},
        comments={"monitoring": "No baseline data."},
        recommendation="admit",
        now=LATER,
    )
    # scored once: final
    error = refused(
        world,
        jury.submit_scores,
        scorer,
        mine_id,
        scores=ALL_FIVE,
        recommendation="admit",
        now=LATER,
    )
    assert error.reason == "transition_not_allowed"

    # blind: the third juror sees only their own row until they submit
    with world.factory() as session:
        blind = jury.scores_of(session, third, lyon)
        assert [j.email for j in blind.jurors] == [third_email]
        assert blind.jurors[0].scores == {}
        with pytest.raises(NotAllowed):
            jury.scores_of(session, decliner, lyon)
    act(
        world,
        jury.submit_scores,
        third,
        assignment(world, lyon, third),
        scores=dict.fromkeys(ALL_FIVE, 2),
        recommendation="not_admit",
        now=LATER,
    )
    with world.factory() as session:
        seen_all = jury.scores_of(session, third, lyon)
        assert {j.state for j in seen_all.jurors} == {"scored", "declined"}
        assert len(seen_all.scored) == 2

    # Tartu: both jurors admit, higher mean
    tartu = ids["Tartu"]
    for email in open_of(world, tartu):
        who = by_email[email]
        act(
            world,
            jury.submit_scores,
            who,
            assignment(world, tartu, who),
            scores=dict.fromkeys(ALL_FIVE, 5),
            recommendation="admit",
            now=LATER,
        )

    # the Institute: scores by juror, mean and spread, and the call's ranking
    with world.factory() as session:
        lyon_scores = jury.scores_of(session, INSTITUTE, lyon)
        assert lyon_scores.mean == pytest.approx((3.6 + 2.0) / 2)
        assert lyon_scores.spread == pytest.approx(1.6)
        assert lyon_scores.criterion_mean("monitoring") == pytest.approx(2.0)
        assert lyon_scores.recommendation == "tied"
        ranked = jury.ranking(session, INSTITUTE, call)
        assert [r.application_id for r in ranked][:2] == [tartu, lyon]
        assert ranked[0].recommendation == "admit" and ranked[0].spread == 0
        with pytest.raises(NotAllowed):
            jury.ranking(session, scorer, call)

    # the decision records the jury's recommendation
    act(world, decisions.decide, INSTITUTE, tartu, "start_review", now=LATER)
    # a juror keeps seeing an application under review
    tartu_juror = by_email[open_of(world, tartu)[0]]
    with world.factory() as session:
        assert apps.get_application(session, tartu_juror, tartu).id == tartu
    act(world, decisions.decide, INSTITUTE, tartu, "admit", now=LATER)
    with world.factory() as session:
        note = session.scalars(
            select(AuditEvent.comment).where(
                AuditEvent.subject_id == tartu, AuditEvent.action == "jury_recommendation"
            )
        ).one()
        assert note == "admit; jury: admit (2 of 2 admit, mean 5.00)"
        steps = [
            e.action
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.subject_type == "assignment")
            )
        ]
        assert Counter(steps) == Counter(assign=9, decline_assignment=1, submit_scores=4)
    # a decided application takes no new juror
    error = refused(world, jury.assign, INSTITUTE, tartu, "lv.juror@example.org", now=LATER)
    assert isinstance(error, InvalidInput) and error.reason == "invalid_input.not_reviewable"
