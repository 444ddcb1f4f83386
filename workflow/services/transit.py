"""An application's transition as the database work it needs, through Core statements.

The steps a person takes on one application (submit, endorse, return, decline, start
the review, admit, not admit, withdraw, expire) go this way:

1. :func:`load`: one narrow read of the application with its call, city and country
   (``workflow.snapshots.read_application``; the row lock on PostgreSQL), and the
   actor's scope;
2. the service checks its rules on that row (the same ``check_*`` functions the pages
   ask, written against ``workflow.snapshots.ApplicationView``);
3. :func:`fire`: the table's row (``common.allowed_step``: version, state, role,
   comment), one UPDATE with the version check, one INSERT of the audit event, and
   the event, whose mail the handlers write in one multi-row INSERT of outbox rows
   (``notifications.outbox.insert_rows``), describing the row read in step 1.

No ORM object of the application is loaded or flushed; an ORM copy already in the
session is expired, so it is read again as it now is. The effects a row names run on
the row read (``workflow.services.effects``: the membership an announced admission
starts, the one a correction ends), with the ORM for the records they create.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, Update, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from config import Settings
from workflow import events
from workflow.actors import Actor, require_city_scope
from workflow.errors import Conflict, NotFound
from workflow.machines import APPLICATION, Step
from workflow.models import Application, AuditEvent
from workflow.services import effects
from workflow.services import memberships as _memberships  # noqa: F401 (its effects)
from workflow.services.common import allowed_step, audit_values, publish, step_event
from workflow.services.jury import require_assigned
from workflow.snapshots import (
    APPLICATIONS,
    COUNTRIES,
    ApplicationRow,
    ApplicationView,
    read_application,
)
from workflow.states import Role

AUDITS = cast(Table, AuditEvent.__table__)
_AUDIT = insert(AUDITS).returning(AUDITS.c.id)
_COUNTRY = (
    select(COUNTRIES.c.name)
    .where(COUNTRIES.c.code == bindparam("code"))
    .with_for_update(of=COUNTRIES, key_share=True)
)


def require_scope(session: Session, actor: Actor, app: ApplicationView) -> None:
    """Whether ``actor`` may see and act on ``app``: a city its own, a Commission its
    country's, a juror only those assigned to them."""
    if actor.role is Role.JUROR:
        require_assigned(session, actor, app.id)
    else:
        require_city_scope(actor, app.city_id, app.country_code, "application")


def load(
    session: Session, actor: Actor, application_id: int, *, lock: bool = True
) -> ApplicationRow:
    """The application, read for a transition, if ``actor`` may act on it."""
    app = read_application(session, application_id, lock=lock)
    if app is None:
        raise NotFound("application", application_id)
    require_scope(session, actor, app)
    return app


def lock_country(session: Session, code: str) -> str:
    """The country's row locked (``FOR NO KEY UPDATE`` on PostgreSQL; SQLite holds the
    write lock), before its application's (the lock order of ``common``); its name."""
    session.flush()
    name = session.connection().execute(_COUNTRY, {"code": code}).scalar()
    if name is None:
        raise NotFound("country", code)
    return str(name)


@cache
def _update(columns: tuple[str, ...]) -> Update:
    """The UPDATE of ``columns`` with the version check (one statement per shape)."""
    c = APPLICATIONS.c
    return (
        update(APPLICATIONS)
        .where(c.id == bindparam("b_id"), c.version == bindparam("b_seen"))
        .values(
            version=c.version + 1,
            **{name: bindparam(f"b_{name}", type_=c[name].type) for name in columns},
        )
    )


def fire(
    session: Session,
    settings: Settings,
    actor: Actor,
    app: ApplicationRow,
    trigger: str,
    *,
    now: datetime,
    comment: str = "",
    version: int | None = None,
    changes: Mapping[str, Any] | None = None,
    today: date | None = None,
    quiet: bool = False,
    publish_now: bool = True,
) -> Step:
    """Take ``trigger`` on ``app``, writing ``changes`` (column: value) with the state,
    in the caller's transaction; ``app`` then describes the row as it is. The row's
    effects run after the change (``today``: the local day they count from). ``quiet``:
    the step tells nobody (a decision nobody was told of, reopened); ``publish_now``
    False leaves the events to the caller's ``publish`` (a batch that tells at once)."""
    step, comment = allowed_step(APPLICATION, app, trigger, actor, comment=comment, version=version)
    source = app.state
    values = {**(changes or {}), "state": step.dest.value, "updated_at": now}
    connection = session.connection()
    params = {f"b_{name}": value for name, value in values.items()}
    result = connection.execute(
        _update(tuple(sorted(values))), {**params, "b_id": app.id, "b_seen": app.version}
    )
    if result.rowcount != 1:
        raise Conflict("application", app.id)
    for name, value in values.items():
        setattr(app, name, value)
    app.version += 1
    loaded = session.identity_map.get(identity_key(Application, app.id))
    if loaded is not None:
        session.expire(loaded)
    audit_id = connection.execute(
        _AUDIT,
        audit_values(
            actor,
            subject_type="application",
            subject_id=app.id,
            action=trigger,
            now=now,
            from_state=source,
            to_state=step.dest.value,
            comment=comment,
        ),
    ).scalar_one()
    if not quiet:
        event = step_event("application", app.id, trigger, source, step, actor, comment, now,
                           audit_id, subject=app)  # fmt: skip
        events.record(session, event)
    effects.run(
        effects.Applied(
            session, settings, actor, APPLICATION, step, app, source, now, comment, today
        )
    )
    if publish_now:
        publish(session, settings)
    return step
