"""Real races on SQLite and PostgreSQL: two threads, each with its own session and
connection, start together at a barrier. Exactly one wins; the other gets a clear domain
error (Conflict, or the refusal of a transition that is no longer possible), never a raw
database exception. Also: a stale version is a Conflict, and the quota holds under
concurrency."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import ADMIN, World, utc
from workflow.actors import Actor
from workflow.db import transaction
from workflow.errors import Conflict, QuotaExceeded, TransitionNotAllowed, WorkflowError
from workflow.models import Application, AuditEvent
from workflow.services import applications as apps
from workflow.services import decisions, directory, submissions
from workflow.states import Role

ROUNDS = 3
JOIN_SECONDS = 60.0
LV = World.commission("LV")
LV_SECOND = Actor(Role.COMMISSION, "second LV officer", country_code="LV")

Outcome = str | BaseException


def race(world: World, *actions: Callable[[Session], object]) -> list[Outcome]:
    """Run ``actions`` at once, each in its own thread and transaction."""
    barrier = threading.Barrier(len(actions), timeout=JOIN_SECONDS)
    outcomes: list[Outcome] = ["not run"] * len(actions)

    def run(index: int, action: Callable[[Session], object]) -> None:
        try:
            barrier.wait()
            with transaction(world.factory) as session:
                action(session)
            outcomes[index] = "ok"
        except BaseException as exc:  # recorded and asserted on by the test
            outcomes[index] = exc

    threads = [
        threading.Thread(target=run, args=(i, a), daemon=True) for i, a in enumerate(actions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_SECONDS)
        assert not thread.is_alive(), "a writer hung"
    return outcomes


def one_winner(outcomes: list[Outcome], *losing: type[WorkflowError]) -> int:
    """The index of the single winner; every loser failed with a domain error."""
    winners = [i for i, o in enumerate(outcomes) if o == "ok"]
    assert len(winners) == 1, outcomes
    for outcome in outcomes:
        if outcome != "ok":
            assert isinstance(outcome, losing), repr(outcome)
    return winners[0]


def submitted(world: World, city: str, now: datetime) -> tuple[int, int]:
    app_id = world.draft(city, now)
    with transaction(world.factory) as session:
        app = submissions.submit(session, world.settings, world.city(city), app_id, now=now)
        return app.id, app.version


def transitions_of(world: World, app_id: int) -> list[str]:
    with world.factory() as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_type == "application", AuditEvent.subject_id == app_id)
                .order_by(AuditEvent.id)
            )
        )


def app_state(world: World, app_id: int) -> str:
    with world.factory() as session:
        found = session.get(Application, app_id)
        assert found is not None
        return found.state


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_commission_endorses_while_the_city_withdraws(world: World, round_: int) -> None:
    now = utc(2027 + round_, 3, 10)
    app_id, seen = submitted(world, "Jelgava", now)
    s, city = world.settings, world.city("Jelgava")
    outcomes = race(
        world,
        lambda x: submissions.endorse(x, s, LV, app_id, now=now, version=seen),
        lambda x: decisions.decide(x, s, city, app_id, "withdraw", now=now, version=seen),
    )
    winner = one_winner(outcomes, Conflict, TransitionNotAllowed)
    expected = ["forwarded", "withdrawn"][winner]
    assert app_state(world, app_id) == expected
    assert transitions_of(world, app_id) == [
        "create",
        "upload_signed_form",
        "submit",
        ["endorse", "withdraw"][winner],
    ]


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_commission_officers_endorse_the_same_application(world: World, round_: int) -> None:
    now = utc(2027 + round_, 4, 10)
    app_id, _ = submitted(world, "Valmiera", now)
    s = world.settings
    outcomes = race(
        world,
        lambda x: submissions.endorse(x, s, LV, app_id, now=now),
        lambda x: submissions.endorse(x, s, LV_SECOND, app_id, now=now),
    )
    one_winner(outcomes, Conflict, TransitionNotAllowed)
    assert app_state(world, app_id) == "forwarded"
    assert transitions_of(world, app_id).count("endorse") == 1


def test_stale_version_is_a_conflict(world: World) -> None:
    now = utc(2027, 3, 10)
    app_id = world.draft("Jelgava", now)
    with world.factory() as session:
        seen = apps.get_application(session, world.city("Jelgava"), app_id).version
    with transaction(world.factory) as session:
        apps.update_draft(
            session, world.settings, world.city("Jelgava"), app_id, now=now, motivation="New."
        )
    city = world.city("Jelgava")
    with (
        pytest.raises(Conflict, match=f"you saw version {seen}") as error,
        transaction(world.factory) as session,
    ):
        submissions.submit(session, world.settings, city, app_id, now=now, version=seen)
    assert "Reload it" in str(error.value)
    assert app_state(world, app_id) == "draft"
    with pytest.raises(Conflict), transaction(world.factory) as session:
        apps.update_draft(
            session,
            world.settings,
            world.city("Jelgava"),
            app_id,
            now=now,
            version=seen,
            motivation="Old view.",
        )


def test_last_quota_slot_goes_to_exactly_one_of_two_concurrent_endorsements(
    world: World,
) -> None:
    now = utc(2027, 3, 10)
    s = world.settings
    with transaction(world.factory) as session:
        extra = [
            directory.upsert_city(
                session,
                ADMIN,
                country_code="LV",
                name=name,
                contact_email=f"info@{name.lower()}.lv",
                mayor_name="Mayor",
                mayor_title="Mayor",
                contact_name="Office",
                now=now,
            ).id
            for name in ("Riga", "Cesis")
        ]
    for city_id in extra:  # two of the three slots go to direct submissions
        actor = Actor(Role.CITY, "office", city_id=city_id, country_code="LV")
        with transaction(world.factory) as session:
            draft = apps.create_draft(
                session,
                s,
                actor,
                now=now,
                motivation="m",
                implementation_plan="p",
                challenges=dict.fromkeys(apps.CHALLENGES, 1),
                signed_by="Mayor",
            )
        world.attach(actor, draft.id, now)
        with transaction(world.factory) as session:
            submissions.submit_direct(session, s, actor, draft.id, now=now, endorsement="letter")
    first, _ = submitted(world, "Jelgava", now)
    second, _ = submitted(world, "Valmiera", now)
    outcomes = race(
        world,
        lambda x: submissions.endorse(x, s, LV, first, now=now),
        lambda x: submissions.endorse(x, s, LV_SECOND, second, now=now),
    )
    winner = one_winner(outcomes, QuotaExceeded)
    assert {app_state(world, first), app_state(world, second)} == {"forwarded", "submitted"}
    assert app_state(world, (first, second)[winner]) == "forwarded"
    with world.factory() as session:
        call_id = session.scalar(select(Application.call_id).where(Application.id == first))
        assert call_id is not None
        assert submissions.endorsements_used(session, call_id, "LV") == 3
        forwarded = session.scalar(
            select(func.count(Application.id)).where(Application.state == "forwarded")
        )
        assert forwarded == 3
