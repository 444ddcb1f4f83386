"""Benchmark 1 on SpiffWorkflow: the route as BPMN user tasks (``application.bpmn``).

Each application has its workflow serialised in a JSON column of the same database
(``bench_spiff_workflows``, created here). Each action, in one transaction: load the
application and its serialised workflow, deserialise, complete the user task, run the
engine (the gateway), serialise and write it back with a version check, and write the
same application state, audit event and outbox rows as our services.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from bench.route import ROUTE, Step, actor, bench_settings, outbox_rows
from bench.world import Applicants
from notifications.outbox import insert_rows
from workflow.db import make_engine, session_factory
from workflow.models import Application, AuditEvent, Membership

BPMN = Path(__file__).with_name("application.bpmn")
SERIALIZER = BpmnWorkflowSerializer()


@cache
def spec() -> Any:
    parser = BpmnParser()
    parser.add_bpmn_file(str(BPMN))
    return parser.get_spec("application")


def prepare(url: str, applicants: Applicants) -> None:
    """The table and one started workflow per application (setup, not measured)."""
    engine = make_engine(url)
    json_type = "JSONB" if engine.dialect.name == "postgresql" else "JSON"
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE bench_spiff_workflows (application_id INTEGER PRIMARY KEY, "
                f"version INTEGER NOT NULL, workflow {json_type} NOT NULL)"
            )
        )
        workflow = BpmnWorkflow(spec())
        workflow.do_engine_steps()
        started = SERIALIZER.serialize_json(workflow)
        conn.execute(
            text("INSERT INTO bench_spiff_workflows VALUES (:id, 1, :workflow)"),
            [{"id": a, "workflow": started} for a, _, _ in applicants.applications],
        )
    engine.dispose()


def complete(serialised: str, task_name: str, data: dict[str, Any]) -> tuple[str, bool]:
    """Run one user task of the stored workflow; its new serialisation, and whether the
    process has ended."""
    workflow = SERIALIZER.deserialize_json(serialised)
    ready = [
        t
        for t in workflow.get_tasks(state=TaskState.READY, manual=True)
        if t.task_spec.name == task_name
    ]
    if not ready:
        raise RuntimeError(f"no ready task {task_name!r} in the workflow")
    task = ready[0]
    task.data.update(data)
    task.run()
    workflow.do_engine_steps()
    return SERIALIZER.serialize_json(workflow), workflow.is_completed()


class Spiff:
    def __init__(self, url: str, applicants: Applicants) -> None:
        prepare(url, applicants)
        self.settings = bench_settings(url)
        self.engine = make_engine(url)
        self.factory = session_factory(self.engine)

    def walk(self, chunk: list[tuple[int, int, str]]) -> None:
        for step in ROUTE:
            for app_id, city_id, country in chunk:
                with self.factory() as session, session.begin():
                    act(session, self.engine, self.settings, step, app_id, city_id, country)

    def close(self) -> None:
        self.engine.dispose()


def act(
    session: Session,
    engine: Engine,
    settings: Any,
    step: Step,
    app_id: int,
    city_id: int,
    country: str,
) -> None:
    who = actor(step, city_id, country)
    app = session.get(Application, app_id)
    assert app is not None
    # The serialiser reads text: PostgreSQL hands JSONB over as text, unparsed.
    column = "workflow::text" if engine.dialect.name == "postgresql" else "workflow"
    version, stored = session.execute(
        text(f"SELECT version, {column} FROM bench_spiff_workflows WHERE application_id = :id"),
        {"id": app_id},
    ).one()
    data = {"decision": "admit"} if step.trigger == "start_review" else {}
    serialised, _ = complete(stored, step.trigger, data)
    updated = session.execute(
        text(
            "UPDATE bench_spiff_workflows SET workflow = :workflow, version = version + 1 "
            "WHERE application_id = :id AND version = :version"
        ),
        {"workflow": serialised, "id": app_id, "version": version},
    )
    if updated.rowcount != 1:  # type: ignore[attr-defined]
        raise RuntimeError(f"workflow of application {app_id} changed meanwhile")
    source = app.state
    app.state = step.dest
    app.updated_at = step.at
    session.add(
        AuditEvent(
            at=step.at,
            actor_name=who.name,
            role=who.role.value,
            subject_type="application",
            subject_id=app_id,
            action=step.trigger,
            from_state=source,
            to_state=step.dest,
            comment="",
        )
    )
    insert_rows(session, outbox_rows(app, step.trigger, settings, step.at, "1"))
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
    session.flush()
