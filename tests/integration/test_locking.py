"""Lock order under concurrency, on SQLite and PostgreSQL, with no retry to hide a
deadlock: two users of one country write at the same time for a bounded number of
rounds, and not one unit of work fails.

The field report (issue 8): loading an application ``FOR UPDATE`` with its call, city and
country joined in also locked the shared call and country rows; those collided with the
foreign-key ``KEY SHARE`` checks of a neighbour city's INSERT, and two city users of one
country deadlocked within seconds. Each service now locks only the rows it changes, in
one global order (workflow.services.common).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import func, select

from tests.conftest import World, utc
from workflow.db import transaction
from workflow.models import Application, AuditEvent
from workflow.services import applications as apps
from workflow.services import decisions, submissions
from workflow.states import ApplicationState as A

ROUNDS = 25
JOIN_SECONDS = 120.0
NOW = utc(2027, 3, 10, 9)  # inside the 2027 window (1 March - 30 April)
LV = World.commission("LV")


def run_together(*loops: Callable[[], None]) -> list[BaseException]:
    """Each loop in its own thread, started at once; every exception they raised."""
    barrier = threading.Barrier(len(loops), timeout=JOIN_SECONDS)
    errors: list[BaseException] = []

    def run(loop: Callable[[], None]) -> None:
        try:
            barrier.wait()
            loop()
        except BaseException as exc:  # recorded and asserted on by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(loop,), daemon=True) for loop in loops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_SECONDS)
        assert not thread.is_alive(), "a writer hung"
    return errors


def audit_actions(world: World, app_id: int) -> list[str]:
    with world.factory() as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_type == "application", AuditEvent.subject_id == app_id)
                .order_by(AuditEvent.id)
            )
        )


def test_a_city_cycling_drafts_and_a_neighbour_editing_its_draft_never_fail(
    world: World,
) -> None:
    s = world.settings
    jelgava, valmiera = world.city("Jelgava"), world.city("Valmiera")
    edited = world.draft("Valmiera", NOW, signed=False)  # also creates the calls first
    cycled: list[int] = []

    def create_and_withdraw() -> None:
        for number in range(ROUNDS):
            with transaction(world.factory) as session:
                app = apps.create_draft(
                    session, s, jelgava, now=NOW, motivation=f"Draft number {number}."
                )
                cycled.append(app.id)
            with transaction(world.factory) as session:
                decisions.decide(session, s, jelgava, cycled[-1], "withdraw", now=NOW)

    def edit() -> None:
        for number in range(ROUNDS):
            with transaction(world.factory) as session:
                apps.update_draft(
                    session, s, valmiera, edited, now=NOW, motivation=f"Edit number {number}."
                )

    assert run_together(create_and_withdraw, edit) == []

    assert len(cycled) == ROUNDS
    with world.factory() as session:
        states = session.scalars(select(Application.state).where(Application.id.in_(cycled)))
        assert set(states) == {A.WITHDRAWN.value}
        draft = session.get(Application, edited)
        assert draft is not None
        assert (draft.state, draft.version) == (A.DRAFT.value, 1 + ROUNDS)
        assert draft.motivation == f"Edit number {ROUNDS - 1}."
    assert audit_actions(world, cycled[-1]) == ["create", "withdraw"]


def test_a_commission_endorsing_while_a_city_of_its_country_cycles_drafts_never_fails(
    world: World,
) -> None:
    """The country's row is the quota's lock; a neighbour's INSERT checks its foreign key
    against that same row (``KEY SHARE``): the two must not wait on each other in a
    cycle, whatever the order in which they come."""
    s = world.settings
    jelgava, valmiera = world.city("Jelgava"), world.city("Valmiera")
    world.draft("Jelgava", NOW)  # the calls exist before the race
    with transaction(world.factory) as session:
        first = session.scalars(select(Application.id)).one()
        decisions.decide(session, s, jelgava, first, "withdraw", now=NOW)
    endorsed: list[int] = []

    def create_and_withdraw() -> None:
        for number in range(ROUNDS):
            with transaction(world.factory) as session:
                app = apps.create_draft(
                    session, s, jelgava, now=NOW, motivation=f"Draft number {number}."
                )
                app_id = app.id
            with transaction(world.factory) as session:
                decisions.decide(session, s, jelgava, app_id, "withdraw", now=NOW)

    def submit_endorse_withdraw() -> None:
        for _ in range(ROUNDS):
            app_id = world.draft("Valmiera", NOW)
            with transaction(world.factory) as session:
                submissions.submit(session, s, valmiera, app_id, now=NOW)
            with transaction(world.factory) as session:
                submissions.endorse(session, s, LV, app_id, now=NOW)
            endorsed.append(app_id)
            # Withdrawn, it frees its place in the quota for the next round.
            with transaction(world.factory) as session:
                decisions.decide(session, s, valmiera, app_id, "withdraw", now=NOW)

    assert run_together(create_and_withdraw, submit_endorse_withdraw) == []

    assert len(endorsed) == ROUNDS
    assert audit_actions(world, endorsed[-1]) == [
        "create",
        "upload_signed_form",
        "submit",
        "endorse",
        "withdraw",
    ]
    with world.factory() as session:
        live = session.scalar(
            select(func.count(Application.id)).where(Application.state != A.WITHDRAWN.value)
        )
        assert live == 0
