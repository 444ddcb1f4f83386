"""The portal's detail view of one application (with its signed PDF, a web upload) and
the calls overview. Every list, and every other view, is the domain's read model:
``workflow.views`` and ``workflow.member_views``, which the API and the CLI use too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from config import Settings
from workflow.actors import Actor, require_role
from workflow.machines import APPLICATION, Step
from workflow.models import Application, AuditEvent, UploadedFile
from workflow.services import applications as apps
from workflow.services import calls as call_service
from workflow.services import submissions
from workflow.states import ApplicationState as A
from workflow.states import Role
from workflow.uploads import signed_form_of


@dataclass
class ApplicationView:
    app: Application
    actions: list[Step]
    history: list[AuditEvent]
    problems: list[apps.FormProblem]
    signed_form: UploadedFile | None
    quota: int
    quota_used: int
    next_steps: list[str] = field(default_factory=list)

    @property
    def quota_left(self) -> int:
        return max(self.quota - self.quota_used, 0)

    @property
    def editable(self) -> bool:
        return self.app.state in (A.DRAFT, A.RETURNED) and any(
            s.trigger in ("submit", "submit_direct") for s in self.actions
        )


def application_view(
    session: Session, settings: Settings, actor: Actor, application_id: int, now: datetime
) -> ApplicationView:
    app = apps.get_application(session, actor, application_id)
    problems: list[apps.FormProblem] = []
    if app.state in (A.DRAFT, A.RETURNED):
        problems = apps.form_problems(app, settings, for_submission=True)
        if not app.signed_form:
            problems.append(apps.FormProblem("signed_form", "signed_form: upload the PDF"))
    return ApplicationView(
        app=app,
        actions=APPLICATION.allowed(app.state, actor.role),
        history=apps.history(session, actor, app.id),
        problems=problems,
        signed_form=signed_form_of(session, app),
        quota=app.call.quota,
        quota_used=submissions.endorsements_used(session, app.call_id, app.country_code),
        next_steps=apps.next_steps(app, actor, now),
    )


def calls_overview(session: Session, settings: Settings, actor: Actor, now: datetime) -> list[Any]:
    """Calls with their windows, for the people who manage them."""
    require_role(actor, Role.ADMIN, Role.INSTITUTE, doing="manage calls")
    return list(call_service.list_calls(session, settings, now))
