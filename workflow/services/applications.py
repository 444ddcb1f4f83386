"""Application services: the form and its draft, the shared transition step, the lists.

Submission and endorsement are in ``submissions``, decisions in ``decisions``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, select
from sqlalchemy.orm import Session

from config import Settings
from workflow.actors import Actor, require_role
from workflow.calendar import local_date
from workflow.errors import (
    InvalidInput,
    NotAllowed,
)
from workflow.models import Application, AuditEvent, City, Membership
from workflow.services import calls as call_service
from workflow.services import transit
from workflow.services.common import audit, check_version, flush, get
from workflow.services.directory import check_one_line
from workflow.snapshots import ApplicationView
from workflow.states import ApplicationState as A
from workflow.states import MembershipState, Role, Route
from workflow.visibility import mask, told_only_when_announced

#: The steps that tell the city and its Commission the Institute's decision, and the
#: steps they hear of only so.
TELLING = ("announce_admission", "announce_non_admission", "correct_admission",
           "correct_non_admission")  # fmt: skip
UNTOLD = ("admit", "not_admit", "reopen")

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
    """One thing to fix before submission: ``message`` in English (command line, API),
    ``key`` and ``params`` the same in the reader's language (``field``: a label's id)."""

    field: str
    message: str
    key: str = ""
    params: dict[str, Any] = dc_field(default_factory=dict)


#: The id of each form field's label, as the pages name it (web/forms.py LABELS).
LABELS = {"challenges": "form.challenges"}


def _label(name: str) -> str:
    return LABELS.get(name, f"field.{name}")


def _required(name: str, message: str) -> FormProblem:
    return FormProblem(name, message, f"problem.{name}", {})


def form_problems(
    app: ApplicationView, settings: Settings, *, for_submission: bool
) -> list[FormProblem]:
    """What is wrong or missing in the form; empty when it may be submitted. A draft
    (``for_submission`` False) is refused only for values that are not valid at all
    (a rating outside 1-5); limits such as the word count are checked at submission."""
    problems: list[FormProblem] = []
    limit = settings.applications.max_words
    for name in ("motivation", "implementation_plan"):
        words = word_count(getattr(app, name))
        if for_submission and words > limit:
            problems.append(
                FormProblem(
                    name,
                    f"{name}: {words} words, at most {limit} allowed",
                    "problem.word_count",
                    {"field": _label(name), "words": words, "limit": limit},
                )
            )
        elif for_submission and words == 0:
            problems.append(_required(name, f"{name}: required"))
    for key, value in app.challenges.items():
        if key not in CHALLENGES:
            problems.append(
                FormProblem(
                    "challenges",
                    f"challenges: unknown area {key!r}",
                    "problem.unknown_area",
                    {"area": str(key)},
                )
            )
        elif not isinstance(value, int) or not 1 <= value <= 5:
            problems.append(
                FormProblem(
                    "challenges",
                    f"challenges.{key}: rate it 1 to 5",
                    "problem.rating",
                    {"area": key},
                )
            )
    if for_submission:
        missing = [c for c in CHALLENGES if c not in app.challenges]
        if missing:
            problems.append(
                FormProblem(
                    "challenges",
                    "challenges: rate " + ", ".join(missing),
                    "problem.rate_missing",
                    {"areas": missing},
                )
            )
        if not app.signed_by.strip():
            problems.append(_required("signed_by", "signed_by: the mayor's signature is required"))
        city = app.city
        for name in ("mayor_name", "mayor_title", "contact_name", "contact_email"):
            if not getattr(city, name).strip():
                problems.append(_required(name, f"{name}: required (city details)"))
    return problems


def form_warnings(app: Application, settings: Settings) -> list[FormProblem]:
    """The limits a draft goes beyond: saved anyway, shown as warnings, checked at
    submission (the word counts)."""
    return [p for p in form_problems(app, settings, for_submission=True)
            if p.key == "problem.word_count"]  # fmt: skip


class FormNotReady(InvalidInput):
    """The form has problems (``params["problems"]``: (message id, params) each, said in
    the reader's language by web/refusals.py)."""

    #: Said from the catalogue in English too: the English message names field keys.
    catalogued = True

    def __init__(self, problems: list[FormProblem]) -> None:
        super().__init__("The form is not ready: " + "; ".join(p.message for p in problems) + ".")
        self.problems = problems
        self.params = {"problems": [(p.key, p.params) for p in problems]}

    @property
    def reason(self) -> str:
        return "invalid_input.form_not_ready"


def require_valid(app: ApplicationView, settings: Settings, *, for_submission: bool) -> None:
    problems = form_problems(app, settings, for_submission=for_submission)
    if problems:
        raise FormNotReady(problems)


def load(session: Session, actor: Actor, application_id: int, *, lock: bool = True) -> Application:
    app = get(session, Application, application_id, "application", lock=lock)
    transit.require_scope(session, actor, app)
    return app


def get_application(session: Session, actor: Actor, application_id: int) -> Application:
    """One application, if the actor may see it, as it may see it (an unannounced
    decision is "under review" for the city and its Commission)."""
    return mask(actor, load(session, actor, application_id, lock=False))


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
        raise NotAllowed("You can start an application only for your own city.", "own_city")
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
            f"{city.name} is already a member of the network; no application needed.",
            "already_member",
            city=city.name,
        )
    call = call_service.current_or_next(session, settings, now)
    if call is None:
        raise InvalidInput(
            "No call for applications is open or planned. Ask the Institute.", "no_call"
        )
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
            f"{call.name}; continue with that one.",
            "application_exists",
            city=city.name,
            kind="application",
            key=existing.id,
            state=existing.state,
            call=call.name,
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
    require_valid(app, settings, for_submission=False)
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
        raise InvalidInput(f"Unknown form fields: {', '.join(sorted(unknown))}.", "unknown_fields")
    for name, value in form.items():
        if value is None:
            continue
        if name == "challenges":
            if not isinstance(value, dict):
                raise InvalidInput(
                    "challenges: expected a mapping of area to a rating 1-5.", "ratings"
                )
            value = {**app.challenges, **value}
        elif name == "signed_by":
            value = check_one_line(str(value), name)
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
    app = load(session, actor, application_id)
    check_version(app, version, "application")
    if app.state not in (A.DRAFT, A.RETURNED):
        raise InvalidInput(
            f"Application {app.id} is {app.state}; the form can be changed only while it is a "
            "draft or returned to you.",
            "form_locked",
            kind="application",
            key=app.id,
            state=app.state,
        )
    _apply_form(app, form)
    require_valid(app, settings, for_submission=False)
    app.updated_at = now
    flush(session, "application", app.id)
    return app


@cache
def holds_endorsement() -> ColumnElement[bool]:
    """An application that holds one of its country's endorsements in its call (built
    once: the pages ask it on every view)."""
    return and_(Application.endorsed_at.is_not(None), Application.state.in_(list(ENDORSED)))


@cache
def _endorsements_of_calls() -> Select[int, str, int]:
    # Built once, the calls bound at each run: a list page asks it on every view.
    return (
        select(Application.call_id, Application.country_code, func.count(Application.id))
        .where(Application.call_id.in_(bindparam("calls", expanding=True)), holds_endorsement())
        .group_by(Application.call_id, Application.country_code)
    )


def endorsements_by_call(
    session: Session, keys: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], int]:
    """``endorsements_used`` for many (call, country) pairs in one query."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows = session.execute(_endorsements_of_calls(), {"calls": sorted({k[0] for k in wanted})})
    found = {(call_id, code): count for call_id, code, count in rows}
    return {key: found.get(key, 0) for key in wanted}


def history(session: Session, actor: Actor, application_id: int) -> list[AuditEvent]:
    app = get_application(session, actor, application_id)
    found = list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.subject_type == "application", AuditEvent.subject_id == application_id
            )
            .order_by(AuditEvent.id)
        )
    )
    if not told_only_when_announced(actor):
        return found
    # The city and its Commission hear of a decision when it is announced: the
    # Institute's decisions and reopenings since the last announcement are not theirs yet.
    told = max((i for i, e in enumerate(found) if e.action in TELLING), default=-1)
    if told < 0 and app.announced_at is not None:
        return found  # announced before announcements were recorded as steps
    return [e for i, e in enumerate(found) if i <= told or e.action not in UNTOLD]


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
