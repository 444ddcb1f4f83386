"""Application services: draft, both submission routes, decisions, withdrawal, expiry."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from config import Settings
from notifications import recipients
from notifications.outbox import Owed
from workflow.actors import Actor, require_city_scope, require_role
from workflow.calendar import local_date, on_or_before
from workflow.errors import (
    DeadlinePassed,
    InvalidInput,
    NotAllowed,
    OutsideWindow,
    QuotaExceeded,
)
from workflow.machines import APPLICATION
from workflow.models import Application, AuditEvent, Call, City, Country, Membership
from workflow.services import calls as call_service
from workflow.services import memberships
from workflow.services.common import audit, check_version, fire, flush, get, notify
from workflow.states import ApplicationState as A
from workflow.states import MembershipState, Role, Route

#: States in which a city's application is still alive in its call.
LIVE = (A.DRAFT, A.SUBMITTED, A.RETURNED, A.FORWARDED, A.UNDER_REVIEW, A.ADMITTED)
#: States that hold one of the country's endorsements for the call (the quota).
ENDORSED = (A.FORWARDED, A.UNDER_REVIEW, A.ADMITTED, A.NOT_ADMITTED)
CHALLENGES = (
    "governance",
    "funding",
    "partnerships",
    "monitoring",
    "inclusion",
)
FORM_FIELDS = ("motivation", "implementation_plan", "challenges", "signed_by")


def word_count(text: str) -> int:
    return len(re.findall(r"\S+", text))


@dataclass(frozen=True)
class FormProblem:
    field: str
    message: str


def form_problems(
    app: Application, settings: Settings, *, for_submission: bool
) -> list[FormProblem]:
    """What is wrong or missing in the form; empty when it may be submitted."""
    problems: list[FormProblem] = []
    limit = settings.applications.max_words
    for name in ("motivation", "implementation_plan"):
        words = word_count(getattr(app, name))
        if words > limit:
            problems.append(FormProblem(name, f"{name}: {words} words, at most {limit} allowed"))
        elif for_submission and words == 0:
            problems.append(FormProblem(name, f"{name}: required"))
    for key, value in app.challenges.items():
        if key not in CHALLENGES:
            problems.append(FormProblem("challenges", f"challenges: unknown area {key!r}"))
        elif not isinstance(value, int) or not 1 <= value <= 5:
            problems.append(FormProblem("challenges", f"challenges.{key}: rate it 1 to 5"))
    if for_submission:
        missing = [c for c in CHALLENGES if c not in app.challenges]
        if missing:
            problems.append(FormProblem("challenges", "challenges: rate " + ", ".join(missing)))
        if not app.signed_by.strip():
            problems.append(
                FormProblem("signed_by", "signed_by: the mayor's signature is required")
            )
        city = app.city
        for name in ("mayor_name", "mayor_title", "contact_name", "contact_email"):
            if not getattr(city, name).strip():
                problems.append(FormProblem(name, f"{name}: required (city details)"))
    return problems


def _require_valid(app: Application, settings: Settings, *, for_submission: bool) -> None:
    problems = form_problems(app, settings, for_submission=for_submission)
    if problems:
        raise InvalidInput("The form is not ready: " + "; ".join(p.message for p in problems) + ".")


def context(app: Application, settings: Settings, comment: str = "") -> dict[str, Any]:
    """What the templates may say about an application."""
    call = app.call
    return {
        "application_id": app.id,
        "city": app.city.name,
        "country": app.city.country.name,
        "commission": app.city.country.commission_name,
        "call": call.name,
        "opens_on": call.opens_on,
        "closes_on": call.closes_on,
        "commission_deadline": call.commission_deadline,
        "timezone": call.timezone,
        "comment": comment,
        "endorsement": app.endorsement,
        "network": settings.network.name,
        "url": f"{settings.web.public_url.rstrip('/')}/applications/{app.id}",
    }


def _load(session: Session, actor: Actor, application_id: int, *, lock: bool = True) -> Application:
    app = get(session, Application, application_id, "application", lock=lock)
    require_city_scope(actor, app.city_id, app.country_code, "application")
    return app


def get_application(session: Session, actor: Actor, application_id: int) -> Application:
    """One application, if the actor may see it."""
    return _load(session, actor, application_id, lock=False)


def _load_endorsing(session: Session, actor: Actor, application_id: int) -> Application:
    """The application of an endorsement, its country locked first (the global lock
    order, see workflow.services.common): endorsements of one country queue on the
    country's row, so the quota is counted by one of them at a time."""
    found = session.execute(
        select(Application.city_id, Application.country_code).where(
            Application.id == application_id
        )
    ).first()
    if found is not None:
        require_city_scope(actor, found.city_id, found.country_code, "application")
        get(session, Country, found.country_code, "country", lock=True)
    return _load(session, actor, application_id)


def _transition(
    session: Session,
    settings: Settings,
    actor: Actor,
    app: Application,
    trigger: str,
    *,
    now: datetime,
    comment: str = "",
    version: int | None = None,
) -> Application:
    app.updated_at = now  # before the flush in fire(): one version step per action
    _, event = fire(
        session, APPLICATION, app, trigger, actor, now=now, comment=comment, version=version
    )
    ctx = context(app, settings, comment.strip())
    owed = [
        Owed(occasion, "application", app.id, addressing, ctx, round=str(event.id))
        for occasion, addressing in recipients.for_application(trigger, app.city, settings)
    ]
    notify(session, settings, owed, now)
    flush(session, "application", app.id)
    return app


def create_draft(
    session: Session,
    settings: Settings,
    actor: Actor,
    *,
    now: datetime,
    city_id: int | None = None,
    **form: Any,
) -> Application:
    """Start an application in the call open now, or else the next one."""
    require_role(actor, Role.CITY, doing="start an application")
    city = get(session, City, actor.city_id, "city", lock=True)
    if city_id is not None and city_id != city.id:
        raise NotAllowed("You can start an application only for your own city.")
    member = session.scalars(
        select(Membership).where(
            Membership.city_id == city.id,
            Membership.state.in_(
                [MembershipState.ACTIVE, MembershipState.OVERDUE, MembershipState.INACTIVE]
            ),
        )
    ).first()
    if member is not None:
        raise InvalidInput(
            f"{city.name} is already a member of the network; no application needed."
        )
    call = call_service.current_or_next(session, settings, now)
    if call is None:
        raise InvalidInput("No call for applications is open or planned. Ask the Institute.")
    existing = session.scalars(
        select(Application).where(
            Application.city_id == city.id,
            Application.call_id == call.id,
            Application.state.in_(list(LIVE)),
        )
    ).first()
    if existing is not None:
        raise InvalidInput(
            f"{city.name} already has application {existing.id} ({existing.state}) in call "
            f"{call.name}; continue with that one."
        )
    app = Application(
        call_id=call.id,
        city_id=city.id,
        country_code=city.country_code,
        route=Route.COMMISSION.value,
        state=A.DRAFT.value,
        challenges={},
        created_at=now,
        updated_at=now,
    )
    session.add(app)
    _apply_form(app, form)
    flush(session, "application", "new")
    session.refresh(app)
    _require_valid(app, settings, for_submission=False)
    audit(
        session,
        actor,
        subject_type="application",
        subject_id=app.id,
        action="create",
        now=now,
        to_state=A.DRAFT.value,
    )
    return app


def _apply_form(app: Application, form: dict[str, Any]) -> None:
    unknown = set(form) - set(FORM_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown form fields: {', '.join(sorted(unknown))}.")
    for name, value in form.items():
        if value is None:
            continue
        if name == "challenges":
            if not isinstance(value, dict):
                raise InvalidInput("challenges: expected a mapping of area to a rating 1-5.")
            value = {**app.challenges, **value}
        setattr(app, name, value)


def update_draft(
    session: Session,
    settings: Settings,
    actor: Actor,
    application_id: int,
    *,
    now: datetime,
    version: int | None = None,
    **form: Any,
) -> Application:
    """Change Part 1 of the form while the city holds the application."""
    require_role(actor, Role.CITY, doing="edit an application")
    app = _load(session, actor, application_id)
    check_version(app, version, "application")
    if app.state not in (A.DRAFT, A.RETURNED):
        raise InvalidInput(
            f"Application {app.id} is {app.state}; the form can be changed only while it is a "
            "draft or returned to you."
        )
    _apply_form(app, form)
    _require_valid(app, settings, for_submission=False)
    app.updated_at = now
    flush(session, "application", app.id)
    return app


def _check_submission_time(app: Application, now: datetime) -> None:
    call = app.call
    if call_service.is_cancelled(call):
        raise InvalidInput(f"Call {call.name} was cancelled ({call.cancel_reason}).")
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
    return (
        session.scalar(
            select(func.count(Application.id)).where(
                Application.call_id == call_id,
                Application.country_code == country_code,
                Application.endorsed_at.is_not(None),
                Application.state.in_(list(ENDORSED)),
            )
        )
        or 0
    )


def _claim_quota(session: Session, app: Application) -> None:
    # Endorsements of one country are serialised: PostgreSQL holds the country's row
    # lock (taken in _load_endorsing, before the application's); SQLite already holds
    # the write lock.
    country = get(session, Country, app.country_code, "country")
    used = endorsements_used(session, app.call_id, app.country_code)
    if used >= app.call.quota:
        raise QuotaExceeded(country.name, app.call.name, app.call.quota)


def submit(
    session: Session,
    settings: Settings,
    actor: Actor,
    application_id: int,
    *,
    now: datetime,
    version: int | None = None,
) -> Application:
    """The city sends the form to its National Commission (copy to the network)."""
    app = _load(session, actor, application_id)
    APPLICATION.resolve("submit", app.state, actor.role, kind="application", key=app.id)
    _check_submission_time(app, now)
    _require_valid(app, settings, for_submission=True)
    app.route = Route.COMMISSION.value
    app.submitted_at = now
    return _transition(session, settings, actor, app, "submit", now=now, version=version)


def submit_direct(
    session: Session,
    settings: Settings,
    actor: Actor,
    application_id: int,
    *,
    now: datetime,
    endorsement: str,
    version: int | None = None,
) -> Application:
    """The alternative route: the form, already endorsed, straight to the Institute."""
    app = _load_endorsing(session, actor, application_id)
    APPLICATION.resolve("submit_direct", app.state, actor.role, kind="application", key=app.id)
    if not endorsement.strip():
        raise InvalidInput(
            "The direct route needs the Commission's endorsement: give its reference "
            "(letter number, date, signatory) with --endorsement."
        )
    _check_submission_time(app, now)
    _require_valid(app, settings, for_submission=True)
    _claim_quota(session, app)
    app.route = Route.DIRECT.value
    app.endorsement = endorsement.strip()
    app.submitted_at = now
    app.endorsed_at = now
    return _transition(session, settings, actor, app, "submit_direct", now=now, version=version)


def endorse(
    session: Session,
    settings: Settings,
    actor: Actor,
    application_id: int,
    *,
    now: datetime,
    comment: str = "",
    version: int | None = None,
) -> Application:
    """The Commission endorses and forwards to the Institute (copy to the city)."""
    app = _load_endorsing(session, actor, application_id)
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
    app.endorsed_at = now
    app.endorsement = comment.strip() or f"Endorsed by {actor.name}"
    return _transition(
        session, settings, actor, app, "endorse", now=now, comment=comment, version=version
    )


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
) -> Application:
    """Any other transition: return, decline, start review, admit, not admit, reopen,
    withdraw, expire."""
    if trigger in ("submit", "submit_direct", "endorse"):
        raise InvalidInput(f"Use the {trigger} action itself.")
    app = _load(session, actor, application_id)
    step = APPLICATION.resolve(trigger, app.state, actor.role, kind="application", key=app.id)
    if trigger == "expire":
        _check_expiry(app, now)
    was_admitted = app.state == A.ADMITTED
    if step.dest in (A.ADMITTED, A.NOT_ADMITTED, A.DECLINED):
        app.decided_at = now
    _transition(session, settings, actor, app, trigger, now=now, comment=comment, version=version)
    if trigger == "admit":
        memberships.admit(session, settings, actor, app, now=now)
    elif trigger == "reopen" and was_admitted:
        memberships.revoke_admission(session, actor, app, now=now, comment=comment)
    return app


def _check_expiry(app: Application, now: datetime) -> None:
    call = app.call
    if app.state == A.DRAFT and not call_service.window(call).has_closed(now):
        raise InvalidInput(f"Application {app.id} can still be submitted until {call.closes_on}.")
    if app.state == A.RETURNED and on_or_before(now, call.commission_deadline, call.timezone):
        raise InvalidInput(
            f"Application {app.id} can still be resubmitted until {call.commission_deadline}."
        )


def _visible(
    actor: Actor,
    *,
    state: str | None,
    states: Sequence[str] | None,
    call: str | None,
    country: str | None,
) -> Select[Application]:
    query = select(Application).join(Call, Application.call_id == Call.id)
    if actor.role is Role.CITY:
        query = query.where(Application.city_id == actor.city_id)
    elif actor.role is Role.COMMISSION:
        query = query.where(Application.country_code == actor.country_code)
    if state:
        query = query.where(Application.state == state)
    if states:
        query = query.where(Application.state.in_(list(states)))
    if call:
        query = query.where(Call.name == call)
    if country:
        query = query.where(Application.country_code == country.upper())
    return query


def list_applications(
    session: Session,
    actor: Actor,
    *,
    state: str | None = None,
    states: Sequence[str] | None = None,
    call: str | None = None,
    country: str | None = None,
    waiting_first: bool = False,
    limit: int = 500,
    offset: int = 0,
) -> list[Application]:
    """Applications the actor may see, newest first; with ``waiting_first``, those the
    actor can act on now come first, soonest Commission deadline first."""
    query = _visible(actor, state=state, states=states, call=call, country=country)
    if waiting_first:
        actionable = [s.value for s in A if APPLICATION.allowed(s.value, actor.role)]
        query = query.order_by(
            case((Application.state.in_(actionable), 0), else_=1),
            Call.commission_deadline,
            Application.id,
        )
    else:
        query = query.order_by(Application.id.desc())
    return list(session.scalars(query.limit(limit).offset(offset)))


def count_applications(
    session: Session,
    actor: Actor,
    *,
    state: str | None = None,
    states: Sequence[str] | None = None,
    call: str | None = None,
    country: str | None = None,
) -> int:
    query = _visible(actor, state=state, states=states, call=call, country=country)
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def endorsements_by_call(
    session: Session, keys: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], int]:
    """``endorsements_used`` for many (call, country) pairs in one query."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows = session.execute(
        select(Application.call_id, Application.country_code, func.count(Application.id))
        .where(
            Application.call_id.in_({k[0] for k in wanted}),
            Application.endorsed_at.is_not(None),
            Application.state.in_(list(ENDORSED)),
        )
        .group_by(Application.call_id, Application.country_code)
    )
    found = {(call_id, code): count for call_id, code, count in rows}
    return {key: found.get(key, 0) for key in wanted}


def history(session: Session, actor: Actor, application_id: int) -> list[AuditEvent]:
    get_application(session, actor, application_id)
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.subject_type == "application", AuditEvent.subject_id == application_id
            )
            .order_by(AuditEvent.id)
        )
    )


def next_steps(app: Application, actor: Actor, now: datetime) -> list[str]:
    """What happens next, with the dates, in words for the person looking."""
    call = app.call
    tz = call.timezone
    today = local_date(now, tz)
    notes: list[str] = []
    if app.state == A.DRAFT:
        if call_service.window(call).contains(now):
            notes.append(f"Submit by {call.closes_on} 23:59:59 {tz} (call {call.name}).")
        elif today < call.opens_on:
            notes.append(f"Submission opens on {call.opens_on} (call {call.name}).")
        else:
            notes.append(f"The window of call {call.name} closed on {call.closes_on}.")
    elif app.state == A.SUBMITTED:
        notes.append(
            f"The National Commission decides by {call.commission_deadline} 23:59:59 {tz}."
        )
    elif app.state == A.RETURNED:
        notes.append(f"Revise and resubmit by {call.commission_deadline} 23:59:59 {tz}.")
    elif app.state in (A.FORWARDED, A.UNDER_REVIEW):
        notes.append("The Institute reviews it with an expert jury and announces new members.")
    elif app.state == A.ADMITTED:
        notes.append("Welcome to the network: progress reports are due every second year.")
    return notes
