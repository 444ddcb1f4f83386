"""Benchmark 1, the naive way: a ``transitions.Machine`` built per row, plain ORM objects.

What many would write first: load the ORM object, bind a new machine to it (from the
same workflow table), fire the trigger, add the audit event and the outbox messages as
ORM objects, commit. It renders the same messages with the same templates as ours.
"""

from __future__ import annotations

from typing import Any

from transitions import Machine

from bench.route import ROUTE, Step, actor, bench_settings, outbox_rows
from bench.world import Applicants
from notifications.models import OutboxMessage
from workflow.db import make_engine, session_factory
from workflow.machines import APPLICATION
from workflow.models import Application, AuditEvent, Membership
from workflow.states import ApplicationState


def machine_for(app: Application) -> Machine:
    """A machine bound to this one row, as the ``transitions`` README shows."""
    return Machine(
        model=app,
        states=[s.value for s in ApplicationState],
        transitions=[
            {
                "trigger": s.trigger,
                "source": [src.value for src in s.sources],
                "dest": s.dest.value,
                "conditions": [lambda role, roles=s.roles: role in roles],
            }
            for s in APPLICATION.steps
        ],
        initial=app.state,
        auto_transitions=False,
        send_event=False,
    )


class Naive:
    def __init__(self, url: str, applicants: Applicants) -> None:
        self.settings = bench_settings(url)
        self.engine = make_engine(url)
        self.factory = session_factory(self.engine)

    def walk(self, chunk: list[tuple[int, int, str]]) -> None:
        for step in ROUTE:
            for app_id, city_id, country in chunk:
                with self.factory() as session, session.begin():
                    act(session, self.settings, step, app_id, city_id, country)

    def close(self) -> None:
        self.engine.dispose()


def act(session: Any, settings: Any, step: Step, app_id: int, city_id: int, country: str) -> None:
    who = actor(step, city_id, country)
    app = session.get(Application, app_id)
    source = app.state
    machine_for(app)
    if not app.trigger(step.trigger, who.role):
        raise RuntimeError(f"{step.trigger} refused for application {app_id} in {source}")
    app.updated_at = step.at
    session.add(
        AuditEvent(
            at=step.at,
            actor_id=None,
            actor_name=who.name,
            role=who.role.value,
            subject_type="application",
            subject_id=app_id,
            action=step.trigger,
            from_state=source,
            to_state=app.state,
            comment="",
        )
    )
    for row in outbox_rows(app, step.trigger, settings, step.at, "1"):
        session.add(OutboxMessage(**row))
    if step.trigger == "admit":
        day = step.at.date()
        session.add(
            Membership(
                city_id=city_id,
                application_id=app_id,
                admitted_on=day,
                admission_year=day.year,
                reports_from=day,
                state="active",
                state_since=step.at,
            )
        )
        session.add(
            AuditEvent(
                at=step.at,
                actor_name=who.name,
                role=who.role.value,
                subject_type="membership",
                subject_id=app_id,
                action="admit",
                to_state="active",
                comment=f"application {app_id}",
            )
        )
        session.add(
            AuditEvent(
                at=step.at,
                actor_name=who.name,
                role=who.role.value,
                subject_type="application",
                subject_id=app_id,
                action="announce_admission",
                from_state="admitted",
                to_state="admitted",
                comment="",
            )
        )
