"""What every transition does: check the version, ask the machine, audit, flush."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from config import Settings
from workflow import events
from workflow.actors import Actor
from workflow.errors import Conflict, InvalidInput, NotFound
from workflow.machines import Step, Workflow
from workflow.models import AuditEvent, Base


class Versioned(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def version(self) -> int: ...


class Stateful(Versioned, Protocol):
    state: str


T = TypeVar("T", bound=Base)

# Row locks on PostgreSQL (SQLite has one write lock for the whole database instead).
#
# A unit of work locks only the rows it changes, with get(..., lock=True), which is
# ``SELECT ... FOR NO KEY UPDATE OF <that table>``: never the rows of eagerly joined
# relations, and never a mode that conflicts with the ``KEY SHARE`` locks that foreign
# key checks of other writers' INSERTs take on a call, city or country. A plain UPDATE
# of a row (no key column changed) takes the same lock implicitly.
#
# Every unit takes its locks in this one global order, so two units never wait on each
# other in a cycle (no deadlock):
#
#     country  <  city  <  application  <  membership  <  report
#
# - country: the quota of endorsements of a call (endorse, submit_direct) is counted
#   under the country's lock, taken BEFORE the application (submissions._load_endorsing);
# - city: its details (the form's Part 1), the one-live-application check of
#   create_draft, and the per-city quota of uploads (workflow.uploads), each BEFORE the
#   application;
# - application: every transition, edit and upload of that application;
# - membership: admission, removal, reinstatement; a report submission that restores
#   the membership locks it BEFORE the report (reports._load_report);
# - report: its submission and review.
#
# Calls are shared by every application of their year: ordinary work never locks or
# updates them (only an administrator's extend or cancel does, alone). Every change of
# a call's window (create, extend, cancel, the annual rule generating one) first takes
# the calls lock (workflow.services.calls.lock_calls: a transaction-level advisory lock
# on PostgreSQL), then the call's row: two changes cannot both pass the overlap check,
# and no other unit waits for that lock. The sweep changes
# one table per transaction, in bulk: it holds rows of that table only, so it cannot
# close a cycle with the units above; its report reminders unit takes an advisory lock
# of its own first (notifications.report_sql.REMINDERS_LOCK), which nothing else takes.
# Accounts: a user's row before its sessions.


def get(session: Session, model: type[T], key: object, kind: str, *, lock: bool = False) -> T:
    """Load one row by primary key or raise :class:`NotFound`.

    ``lock`` takes a row lock on PostgreSQL; SQLite already holds the database write
    lock for the whole transaction. The lock is ``FOR NO KEY UPDATE OF`` this row only:
    not the rows of eagerly joined relations (a city's country, an application's call),
    which other writers share, and not a lock that conflicts with the ``KEY SHARE``
    checks of foreign keys, so a city inserting a draft never waits on (or deadlocks
    with) a Commission endorsing in the same country.
    """
    if lock:
        pk = model.__mapper__.primary_key[0]
        found = session.scalars(
            select(model)
            .where(pk == key)
            .with_for_update(of=model.__table__, key_share=True)
            .execution_options(populate_existing=True)
        ).first()
    else:
        found = session.get(model, key)
    if found is None:
        raise NotFound(kind, key)
    return found


def check_version(record: Versioned, version: int | None, kind: str) -> None:
    """The caller saw ``version``; refuse if the record has moved on since."""
    if version is not None and version != record.version:
        raise Conflict(kind, record.id, f"you saw version {version}, it is now {record.version}")


def audit(
    session: Session,
    actor: Actor,
    *,
    subject_type: str,
    subject_id: int,
    action: str,
    now: datetime,
    from_state: str | None = None,
    to_state: str | None = None,
    comment: str = "",
) -> AuditEvent:
    event = AuditEvent(
        **audit_values(
            actor,
            subject_type=subject_type,
            subject_id=subject_id,
            action=action,
            now=now,
            from_state=from_state,
            to_state=to_state,
            comment=comment,
        )
    )
    session.add(event)
    return event


def audit_values(
    actor: Actor,
    *,
    subject_type: str,
    subject_id: int,
    action: str,
    now: datetime,
    from_state: str | None = None,
    to_state: str | None = None,
    comment: str = "",
) -> dict[str, Any]:
    """The columns of one audit event (an ORM ``AuditEvent`` or a Core INSERT's row)."""
    return {
        "at": now,
        "actor_id": actor.user_id,
        "actor_name": actor.name,
        "role": actor.role.value,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "comment": comment,
    }


class CommentNeeded(InvalidInput):
    """A step that tells the city why (return, decline, ...) fired without a comment."""

    catalogued = True  # the English message names the command line's option

    def __init__(self, kind: str, trigger: str, label: str) -> None:
        super().__init__(f"Say why: '{label}' needs a comment for the city (use --comment).")
        self.params = {"kind": kind, "action": trigger}

    @property
    def reason(self) -> str:
        return "invalid_input.comment_needed"


def fire(
    session: Session,
    workflow: Workflow,
    record: Stateful,
    trigger: str,
    actor: Actor,
    *,
    now: datetime,
    comment: str = "",
    version: int | None = None,
) -> tuple[Step, AuditEvent]:
    """Move ``record`` along ``trigger`` if the machine allows ``actor`` to; audit it.

    The transition is recorded as an :class:`~workflow.events.Event` (its round is the
    audit event's id) in the session; the unit of work hands it to whoever listens with
    :func:`publish` once the record is as the mail should describe it.
    """
    kind = workflow.name
    step, comment = allowed_step(workflow, record, trigger, actor, comment=comment, version=version)
    source = record.state
    record.state = step.dest.value
    return step, recorded(session, actor, kind, record.id, trigger, source, step, now, comment)


class _HasState(Versioned, Protocol):
    @property
    def state(self) -> str: ...


def allowed_step(
    workflow: Workflow,
    record: _HasState,
    trigger: str,
    actor: Actor,
    *,
    comment: str = "",
    version: int | None = None,
) -> tuple[Step, str]:
    """The row of ``trigger`` that ``actor`` may take on ``record`` now, and the comment
    as it is recorded: the version the caller saw, the table (state and role), a comment
    for the steps that tell why. Every transition asks this first (``fire`` and the Core
    path of ``workflow.services.transit``)."""
    kind = workflow.name
    check_version(record, version, kind)
    step = workflow.resolve(trigger, record.state, actor.role, kind=kind, key=record.id)
    comment = comment.strip()
    if step.needs_comment and not comment:
        raise CommentNeeded(kind, trigger, step.label)
    return step, comment


def recorded(
    session: Session,
    actor: Actor,
    kind: str,
    subject_id: int,
    trigger: str,
    source: str | None,
    step: Step,
    now: datetime,
    comment: str,
) -> AuditEvent:
    """What every step leaves behind: its audit event and the domain event that mail
    handlers read (``source`` None when the step created the record)."""
    event = audit(
        session,
        actor,
        subject_type=kind,
        subject_id=subject_id,
        action=trigger,
        now=now,
        from_state=source,
        to_state=step.dest.value,
        comment=comment,
    )
    flush(session, kind, subject_id)
    events.record(
        session, step_event(kind, subject_id, trigger, source, step, actor, comment, now, event.id)
    )
    return event


def step_event(
    kind: str,
    subject_id: int,
    trigger: str,
    source: str | None,
    step: Step,
    actor: Actor,
    comment: str,
    now: datetime,
    audit_id: int,
    subject: object = None,
) -> events.Event:
    """The domain event of one step (its round: the step's audit event's id)."""
    return events.Event(
        workflow=kind,
        subject_type=kind,
        subject_id=subject_id,
        trigger=trigger,
        source=source,
        dest=step.dest.value,
        actor=actor,
        comment=comment,
        at=now,
        round=str(audit_id),
        subject=subject,
    )


def flush(session: Session, kind: str, key: object) -> None:
    """Write pending changes now, turning a lost race into a :class:`Conflict`."""
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(kind, key) from exc
    except IntegrityError as exc:
        raise Conflict(kind, key, "a record with the same key was written meanwhile") from exc


def publish(session: Session, settings: Settings) -> None:
    """Tell the installed handlers what this unit of work did so far (the transitions
    ``fire`` recorded), in its transaction: the mail it owes is written with it."""
    events.publish(session, settings)
