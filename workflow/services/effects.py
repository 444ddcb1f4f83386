"""The effects a workflow row names, registered by name, and the steps that run them.

A row of a table in ``workflow.machines`` names its effects (``effects=["..."]``): what
happens after the state change, in the same transaction (a membership is created on
admission, report obligations are created, a corrected admission ends the membership).
The table stays data; the functions live with the service they belong to and register
themselves here with :func:`effect`. :func:`fire_step` and :func:`start` are the
table-driven transitions: the state change and its audit event (``common.fire``), then
each effect the row names, in order. A name without a function is an error at once.

The quota of endorsements needs no effect: it is counted from the states that hold one
(``applications.ENDORSED``), so leaving them (withdraw) releases it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from config import Settings
from workflow.actors import Actor
from workflow.machines import Step, Workflow
from workflow.models import AuditEvent
from workflow.services.common import Stateful, fire, flush, recorded


@dataclass(frozen=True)
class Applied:
    """What an effect is told: the step just taken, on which record, by whom, when."""

    session: Session
    settings: Settings
    actor: Actor
    workflow: Workflow
    step: Step
    record: Any
    source: str | None
    now: datetime
    comment: str = ""
    #: The local day the step happened on, when the caller knows the timezone it counts in.
    today: date | None = None


Effect = Callable[[Applied], None]

#: Every effect a table may name, by name (filled by the services that define them).
EFFECTS: dict[str, Effect] = {}


def effect(name: str) -> Callable[[Effect], Effect]:
    """Register ``function`` as the effect ``name`` (one function per name)."""

    def register(function: Effect) -> Effect:
        if EFFECTS.get(name, function) is not function:
            raise ValueError(f"effect {name!r} is registered twice")
        EFFECTS[name] = function
        return function

    return register


def missing(workflow: Workflow) -> set[str]:
    """Effects named in ``workflow``'s table that no function is registered for."""
    return workflow.effect_names() - set(EFFECTS)


def run(applied: Applied) -> None:
    """Run the effects the step names, in the table's order."""
    for name in applied.step.effects:
        try:
            function = EFFECTS[name]
        except KeyError:
            raise LookupError(
                f"the {applied.workflow.name} table names effect {name!r} of "
                f"{applied.step.trigger!r}, but no function is registered for it"
            ) from None
        function(applied)


def fire_step(
    session: Session,
    settings: Settings,
    workflow: Workflow,
    record: Stateful,
    trigger: str,
    actor: Actor,
    *,
    now: datetime,
    comment: str = "",
    version: int | None = None,
    today: date | None = None,
) -> tuple[Step, AuditEvent]:
    """``common.fire`` (state change, audit, event), then the row's effects."""
    source = record.state
    step, event = fire(
        session, workflow, record, trigger, actor, now=now, comment=comment, version=version
    )
    run(
        Applied(
            session, settings, actor, workflow, step, record, source, now, comment.strip(), today
        )
    )
    return step, event


def start(
    session: Session,
    settings: Settings,
    workflow: Workflow,
    record: Stateful,
    trigger: str,
    actor: Actor,
    *,
    now: datetime,
    comment: str = "",
    today: date | None = None,
) -> tuple[Step, AuditEvent]:
    """Create ``record`` by the row of ``trigger`` without sources: its first state,
    the audit event (from nothing), the event, then the row's effects."""
    kind = workflow.name
    step = workflow.resolve_start(trigger, actor.role, kind=kind)
    record.state = step.dest.value
    session.add(record)
    flush(session, kind, "new")
    event = recorded(session, actor, kind, record.id, trigger, None, step, now, comment)
    run(Applied(session, settings, actor, workflow, step, record, None, now, comment, today))
    return step, event
