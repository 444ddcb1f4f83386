"""The other application transitions: return, decline, review, admit, reopen,
withdraw, expire; their side effects are named in the table (``effects``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from config import Settings
from workflow.actors import Actor
from workflow.calendar import on_or_before
from workflow.errors import InvalidInput
from workflow.machines import APPLICATION, Step
from workflow.services import calls as call_service
from workflow.services import (
    memberships,  # noqa: F401 (registers the membership effects)
    transit,
)
from workflow.services.common import audit
from workflow.services.jury import recommendation_note
from workflow.snapshots import ApplicationView
from workflow.states import ApplicationState as A
from workflow.visibility import decided_unannounced, told_only_when_announced

#: The destinations that are the decision on an application (stamped ``decided_at``).
DECIDED = (A.ADMITTED, A.NOT_ADMITTED, A.DECLINED)


def decide(
    session: Session,
    settings: Settings,
    actor: Actor,
    application_id: int,
    trigger: str,
    *,
    now: datetime,
    comment: str = "",
    version: int | None = None,
) -> ApplicationView:
    """Any other transition: return, decline, start review, admit, not admit, reopen,
    withdraw, expire."""
    if trigger in ("submit", "submit_direct", "endorse"):
        raise InvalidInput(
            f"Use the {trigger} action itself.", "own_action", kind="application", action=trigger
        )
    row = transit.load(session, actor, application_id)
    step = check_decide(actor, row, trigger, now)
    changes: dict[str, Any] = {}
    if step.dest in DECIDED:
        changes["decided_at"] = now
    if step.dest in UNANNOUNCED:
        # Recorded, told to nobody: an announcement's publication tells it.
        changes["announcement_id"] = None
        changes["announced_at"] = None
    # A decision nobody was told of is reopened without a word to the city; the row's
    # effects (the end of a membership a corrected admission had started) run after
    # the state change, by name (workflow.services.effects).
    quiet = trigger == "reopen" and row.announced_at is None
    transit.fire(
        session, settings, actor, row, trigger, now=now, comment=comment, version=version,
        changes=changes, quiet=quiet,
    )  # fmt: skip
    if step.dest in (A.ADMITTED, A.NOT_ADMITTED):
        _record_jury(session, actor, row, trigger, now)
    return row


#: The Institute's decisions, told only when their announcement is published.
UNANNOUNCED = (A.ADMITTED, A.NOT_ADMITTED)


def _record_jury(
    session: Session, actor: Actor, app: ApplicationView, trigger: str, now: datetime
) -> None:
    """The decision records the jury's recommendation beside it in the audit log."""
    note = recommendation_note(session, app)
    if note:
        audit(
            session,
            actor,
            subject_type="application",
            subject_id=app.id,
            action="jury_recommendation",
            now=now,
            comment=f"{trigger}; {note}",
        )


def check_decide(actor: Actor, app: ApplicationView, trigger: str, now: datetime) -> Step:
    """Whether ``actor`` may fire ``trigger`` (any but submit and endorse) on ``app`` now:
    the state and role, and for ``expire`` that the time to submit is over. The comment
    a step needs is the person's input, checked when it fires. The city and its
    Commission can change nothing once the Institute has decided, announced or not (the
    city withdraws only until the decision); the refusal does not tell the decision."""
    if told_only_when_announced(actor) and decided_unannounced(app):
        # refused as the state they see refuses it (the role first), then as decided
        APPLICATION.resolve(
            trigger, A.UNDER_REVIEW.value, actor.role, kind="application", key=app.id
        )
        raise InvalidInput(
            f"The Institute has decided on application {app.id}; its decision will be announced.",
            "decided_unannounced",
            kind="application",
            key=app.id,
        )
    step = APPLICATION.resolve(trigger, app.state, actor.role, kind="application", key=app.id)
    if step.internal:
        # Told by an announcement (workflow.services.announcements), never one by one.
        raise InvalidInput(
            f"Application {app.id}: a decision is told, or corrected once told, through an "
            "announcement (publish or correct it on the Announcements page or with "
            "gnlc announcement).",
            "announcement_step",
            kind="application",
            key=app.id,
        )
    if trigger == "expire":
        _check_expiry(app, now)
    return step


def _check_expiry(app: ApplicationView, now: datetime) -> None:
    call = app.call
    if app.state == A.DRAFT and not call_service.window(call).has_closed(now):
        raise InvalidInput(
            f"Application {app.id} can still be submitted until {call.closes_on}.",
            "not_expired.draft",
            kind="application",
            key=app.id,
            deadline=call.closes_on,
        )
    if app.state == A.RETURNED and on_or_before(now, call.commission_deadline, call.timezone):
        raise InvalidInput(
            f"Application {app.id} can still be resubmitted until {call.commission_deadline}.",
            "not_expired.returned",
            kind="application",
            key=app.id,
            deadline=call.commission_deadline,
        )
