"""The portal's detail views of one application (with its signed PDF, a web upload) and
of one report, and the calls overview. Every list, and every other view, is the domain's
read model: ``workflow.views`` and ``workflow.member_views``, which the API and the CLI
use too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
from web.actions import Offer, application_offers, report_offers
from workflow.actors import Actor, require_role
from workflow.machines import Step
from workflow.models import Application, AuditEvent, Country, Report, UploadedFile
from workflow.names import commission_name
from workflow.services import applications as apps
from workflow.services import calls as call_service
from workflow.services import reports as report_service
from workflow.services import submissions
from workflow.states import ApplicationState as A
from workflow.states import Role
from workflow.uploads import signed_form_of

#: The steps whose comment is the reviewer's word to the city: shown first on the page.
FEEDBACK = {
    "application": ("return_to_city", "decline", "not_admit"),
    "report": ("return_for_revision",),
}


@dataclass(frozen=True)
class Feedback:
    """The latest reviewer comment: what was done, by whom (name, role, the Commission's
    name when a Commission wrote it), when, and the words."""

    action: str
    comment: str
    at: datetime
    actor_name: str
    role: str
    organisation: str
    current: bool  # the record is still in the state this step led to


@dataclass
class ApplicationView:
    app: Application
    offers: list[Offer]
    history: list[AuditEvent]
    problems: list[apps.FormProblem]
    warnings: list[apps.FormProblem]
    signed_form: UploadedFile | None
    quota: int
    quota_used: int
    feedback: Feedback | None = None
    commission: str = ""
    next_steps: list[str] = field(default_factory=list)

    @property
    def actions(self) -> list[Step]:
        """What the table allows now (the API lists them all)."""
        return [o.step for o in self.offers]

    @property
    def quota_left(self) -> int:
        return max(self.quota - self.quota_used, 0)

    @property
    def editable(self) -> bool:
        return self.app.state in (A.DRAFT, A.RETURNED) and any(
            s.trigger in ("submit", "submit_direct") for s in self.actions
        )


def feedback_of(
    history: list[AuditEvent], kind: str, commission: str, state: str
) -> Feedback | None:
    for event in reversed(history):
        if event.action in FEEDBACK[kind] and event.comment.strip():
            return Feedback(
                action=event.action,
                comment=event.comment,
                at=event.at,
                actor_name=event.actor_name,
                role=event.role,
                organisation=commission if event.role == Role.COMMISSION.value else "",
                current=event.to_state == state,
            )
    return None


def application_view(
    session: Session,
    settings: Settings,
    actor: Actor,
    application_id: int,
    now: datetime,
    *,
    lang: str = "",
) -> ApplicationView:
    """``lang``: the reader's language, in which the Commission is named."""
    app = apps.get_application(session, actor, application_id)
    problems: list[apps.FormProblem] = []
    warnings: list[apps.FormProblem] = []
    if app.state in (A.DRAFT, A.RETURNED):
        problems = apps.form_problems(app, settings, for_submission=True)
        warnings = [p for p in problems if p.key == "problem.word_count"]
        if not app.signed_form:
            missing = "signed_form: upload the PDF"
            problems.append(apps.FormProblem("signed_form", missing, "problem.signed_form"))
    history = apps.history(session, actor, app.id)
    country = session.get(Country, app.country_code)
    commission = commission_name(country, lang)
    return ApplicationView(
        app=app,
        offers=application_offers(session, settings, actor, app, now),
        history=history,
        problems=problems,
        warnings=warnings,
        signed_form=signed_form_of(session, app),
        quota=app.call.quota,
        quota_used=submissions.endorsements_used(session, app.call_id, app.country_code),
        feedback=feedback_of(history, "application", commission, app.state),
        commission=commission,
        next_steps=apps.next_steps(app, actor, now),
    )


@dataclass
class ReportView:
    report: Report
    offers: list[Offer]
    history: list[AuditEvent]
    feedback: Feedback | None


def report_view(session: Session, actor: Actor, report_id: int) -> ReportView:
    report = report_service.get_report(session, actor, report_id)
    history = list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_type == "report", AuditEvent.subject_id == report.id)
            .order_by(AuditEvent.id)
        )
    )
    return ReportView(
        report=report,
        offers=report_offers(actor, report),
        history=history,
        feedback=feedback_of(history, "report", "", report.state),
    )


#: Comments the system writes itself, by the action they come with: (pattern, message id,
#: the param the pattern's group fills).
_SYSTEM_NOTES: dict[str, tuple[re.Pattern[str], str, str]] = {
    "admit": (re.compile(r"application (\d+)"), "note.from_application", "id"),
    "submit": (re.compile(r"late"), "note.late", ""),
    "restore": (re.compile(r"every due report is in"), "note.caught_up", ""),
}


def system_note(event: AuditEvent) -> tuple[str, dict[str, Any]] | None:
    """(message id, params) of a comment the system wrote itself on ``event``, or None
    for a person's own words (shown as written)."""
    known = _SYSTEM_NOTES.get(event.action)
    found = known[0].fullmatch(event.comment.strip()) if known else None
    if known is None or found is None:
        return None
    return known[1], ({known[2]: found.group(1)} if known[2] else {})


def calls_overview(session: Session, settings: Settings, actor: Actor, now: datetime) -> list[Any]:
    """Calls with their windows, for the people who manage them."""
    require_role(actor, Role.ADMIN, Role.INSTITUTE, doing="manage calls")
    return list(call_service.list_calls(session, settings, now))
