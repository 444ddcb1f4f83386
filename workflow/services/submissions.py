"""Submission (both routes: only with the signed form on file) and the Commission's
endorsement, with the quota."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from config import Settings
from workflow.actors import Actor, require_city_scope
from workflow.calendar import on_or_before
from workflow.errors import DeadlinePassed, InvalidInput, OutsideWindow, QuotaExceeded
from workflow.machines import APPLICATION
from workflow.models import Application, Country
from workflow.services import applications as apps
from workflow.services import calls as call_service
from workflow.services import transit
from workflow.services.common import get
from workflow.snapshots import APPLICATIONS, ApplicationRow, ApplicationView
from workflow.states import ApplicationState as A
from workflow.states import Route
from workflow.uploads import require_signed_form


class EndorsementMissing(InvalidInput):
    """The direct route without the Commission's endorsement."""

    catalogued = True  # the English message names the command line's option

    def __init__(self) -> None:
        super().__init__(
            "The direct route needs the Commission's endorsement: give its reference "
            "(letter number, date, signatory) with --endorsement."
        )

    @property
    def reason(self) -> str:
        return "invalid_input.endorsement_missing"


_WHERE_IS = select(APPLICATIONS.c.city_id, APPLICATIONS.c.country_code).where(
    APPLICATIONS.c.id == bindparam("id")
)


def _load_endorsing(session: Session, actor: Actor, application_id: int) -> ApplicationRow:
    """The application of an endorsement, its country locked first (the global lock
    order, see workflow.services.common): endorsements of one country queue on the
    country's row, so the quota is counted by one of them at a time. SQLite holds the
    database's write lock already (``BEGIN IMMEDIATE``), so it reads the row alone."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        return transit.load(session, actor, application_id)
    found = connection.execute(_WHERE_IS, {"id": application_id}).first()
    if found is not None:
        require_city_scope(actor, found.city_id, found.country_code, "application")
        transit.lock_country(session, found.country_code)
    return transit.load(session, actor, application_id)


def _check_submission_time(app: ApplicationView, now: datetime) -> None:
    call = app.call
    if call_service.is_cancelled(call):
        raise InvalidInput(
            f"Call {call.name} was cancelled ({call.cancel_reason}).",
            "call_cancelled",
            call=call.name,
            comment=call.cancel_reason,
        )
    win = call_service.window(call)
    if app.state == A.RETURNED:
        # A returned application may come back until the Commission's deadline.
        if not on_or_before(now, call.commission_deadline, call.timezone):
            raise DeadlinePassed(
                "Resubmitting a returned application",
                call.commission_deadline,
                call.timezone,
                "Apply again in the next call.",
                why="resubmit",
            )
        return
    if not win.contains(now):
        raise OutsideWindow(
            "Submitting an application", call.opens_on, call.closes_on, call.timezone, call.name
        )


def endorsements_used(session: Session, call_id: int, country_code: str) -> int:
    used = session.scalar(_endorsements_used(), {"call_id": call_id, "country_code": country_code})
    return used or 0


@cache
def _endorsements_used() -> Select[int]:
    # Built once, the call and country bound at each run: pages and endorsements ask it.
    return select(func.count(Application.id)).where(
        Application.call_id == bindparam("call_id"),
        Application.country_code == bindparam("country_code"),
        apps.holds_endorsement(),
    )


def _claim_quota(session: Session, app: ApplicationView) -> None:
    # Endorsements of one country are serialised: PostgreSQL holds the country's row
    # lock (taken in _load_endorsing, before the application's); SQLite already holds
    # the write lock.
    used = endorsements_used(session, app.call_id, app.country_code)
    if used >= app.call.quota:
        name = app.city.country.name
        if app.city.country.code != app.country_code:
            name = get(session, Country, app.country_code, "country").name
        raise QuotaExceeded(name, app.call.name, app.call.quota)


# One check per action, raising what the action would raise: the services call them
# before they change anything, and the pages call them to offer only what succeeds
# (and to say why the rest is not possible now).


def check_submit(
    session: Session, settings: Settings, actor: Actor, app: ApplicationView, now: datetime
) -> None:
    """Whether ``actor`` may submit ``app`` now: state and role, the window (or the
    Commission's deadline for a returned one), the signed form, a complete form."""
    APPLICATION.resolve("submit", app.state, actor.role, kind="application", key=app.id)
    _check_submission_time(app, now)
    require_signed_form(session, app)
    apps.require_valid(app, settings, for_submission=True)


def check_submit_direct(
    session: Session,
    settings: Settings,
    actor: Actor,
    app: ApplicationView,
    now: datetime,
    endorsement: str | None = None,
) -> None:
    """``check_submit`` for the direct route, and the country's quota; ``endorsement``
    None when the person has not given it yet (a page that asks for it)."""
    APPLICATION.resolve("submit_direct", app.state, actor.role, kind="application", key=app.id)
    if endorsement is not None and not endorsement.strip():
        raise EndorsementMissing()
    _check_submission_time(app, now)
    require_signed_form(session, app)
    apps.require_valid(app, settings, for_submission=True)
    _claim_quota(session, app)


def check_endorse(session: Session, actor: Actor, app: ApplicationView, now: datetime) -> None:
    """Whether ``actor`` may endorse ``app`` now: state and role, the Commission's
    deadline, an endorsement left in the country's quota."""
    APPLICATION.resolve("endorse", app.state, actor.role, kind="application", key=app.id)
    call = app.call
    if not on_or_before(now, call.commission_deadline, call.timezone):
        raise DeadlinePassed(
            "Endorsing",
            call.commission_deadline,
            call.timezone,
            "Ask the Institute to extend the call's Commission deadline.",
            why="endorse",
        )
    _claim_quota(session, app)


def submit(
    session: Session,
    settings: Settings,
    actor: Actor,
    application_id: int,
    *,
    now: datetime,
    version: int | None = None,
) -> ApplicationRow:
    """The city sends the form to its National Commission (copy to the network)."""
    app = transit.load(session, actor, application_id)
    check_submit(session, settings, actor, app, now)
    changes = {"route": Route.COMMISSION.value, "submitted_at": now}
    transit.fire(session, settings, actor, app, "submit", now=now, version=version, changes=changes)
    return app


def submit_direct(
    session: Session,
    settings: Settings,
    actor: Actor,
    application_id: int,
    *,
    now: datetime,
    endorsement: str,
    version: int | None = None,
) -> ApplicationRow:
    """The alternative route: the form, already endorsed, straight to the Institute."""
    app = _load_endorsing(session, actor, application_id)
    check_submit_direct(session, settings, actor, app, now, endorsement)
    changes = {
        "route": Route.DIRECT.value,
        "endorsement": endorsement.strip(),
        "submitted_at": now,
        "endorsed_at": now,
    }
    transit.fire(
        session, settings, actor, app, "submit_direct", now=now, version=version, changes=changes
    )
    return app


def endorse(
    session: Session,
    settings: Settings,
    actor: Actor,
    application_id: int,
    *,
    now: datetime,
    comment: str = "",
    version: int | None = None,
) -> ApplicationRow:
    """The Commission endorses and forwards to the Institute (copy to the city)."""
    app = _load_endorsing(session, actor, application_id)
    check_endorse(session, actor, app, now)
    # The Commission's own words, if any; who endorsed and when is in the history (the
    # pages say it in the reader's language).
    changes = {"endorsed_at": now, "endorsement": comment.strip()}
    transit.fire(
        session, settings, actor, app, "endorse", now=now, comment=comment, version=version,
        changes=changes,
    )  # fmt: skip
    return app
