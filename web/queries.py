"""Read models for pages and API: one application with what may happen next, the
Commission's queue, members with their reporting status, reports awaiting review.

Each starts from a service call, or from the service's own scope filter, that limits
what the actor sees. The two long lists (the queue and the member list) read only the
columns their pages show, as plain rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
from web.models import UploadedFile
from workflow.actors import Actor, require_role
from workflow.calendar import local_date
from workflow.machines import APPLICATION, MEMBERSHIP, REPORT, Step
from workflow.models import Application, AuditEvent, Membership, Report
from workflow.services import applications as apps
from workflow.services import calls as call_service
from workflow.services import memberships
from workflow.states import ApplicationState as A
from workflow.states import ReportState as R
from workflow.states import Role


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


def signed_form_of(session: Session, app: Application) -> UploadedFile | None:
    if not app.signed_form:
        return None
    return session.scalars(
        select(UploadedFile).where(UploadedFile.stored_name == app.signed_form)
    ).first()


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
        quota_used=apps.endorsements_used(session, app.call_id, app.country_code),
        next_steps=apps.next_steps(app, actor, now),
    )


@dataclass
class QueueRow:
    app: Application
    deadline: date
    quota_left: int
    actions: list[Step]

    # The flat fields the list templates show (shared with QueueLine).
    @property
    def id(self) -> int:
        return self.app.id

    @property
    def city(self) -> str:
        return self.app.city.name

    @property
    def country_code(self) -> str:
        return self.app.country_code

    @property
    def call(self) -> str:
        return self.app.call.name

    @property
    def quota(self) -> int:
        return self.app.call.quota

    @property
    def state(self) -> str:
        return self.app.state

    @property
    def route(self) -> str:
        return self.app.route


PER_PAGE = 50


@dataclass
class Page:
    """One page of a long list, for the pager under it."""

    number: int
    size: int
    total: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def last(self) -> int:
        return max((self.total + self.size - 1) // self.size, 1)


def page_of(number: int, total: int, size: int = PER_PAGE) -> Page:
    return Page(min(max(number, 1), max((total + size - 1) // size, 1)), size, total)


def queue(
    session: Session,
    actor: Actor,
    *,
    states: tuple[str, ...] = (),
    limit: int = PER_PAGE,
    offset: int = 0,
) -> list[QueueRow]:
    """Applications the actor may see (optionally in ``states``), those waiting for the
    actor first, soonest deadline first. A few queries, whatever the number of rows."""
    found = apps.list_applications(
        session, actor, states=states or None, waiting_first=True, limit=limit, offset=offset
    )
    used = apps.endorsements_by_call(session, {(a.call_id, a.country_code) for a in found})
    return [
        QueueRow(
            app=app,
            deadline=app.call.commission_deadline,
            quota_left=max(app.call.quota - used[(app.call_id, app.country_code)], 0),
            actions=APPLICATION.allowed(app.state, actor.role),
        )
        for app in found
    ]


def queue_size(session: Session, actor: Actor, *, states: tuple[str, ...] = ()) -> int:
    return apps.count_applications(session, actor, states=states or None)


@dataclass
class MemberRow:
    membership: Membership
    reports: list[Report]
    overdue: int
    next_due: date | None
    actions: list[Step]

    # The flat fields the list templates show (shared with MemberLine).
    @property
    def id(self) -> int:
        return self.membership.id

    @property
    def city(self) -> str:
        return self.membership.city.name

    @property
    def country_code(self) -> str:
        return self.membership.city.country_code

    @property
    def state(self) -> str:
        return self.membership.state

    @property
    def admission_year(self) -> int:
        return self.membership.admission_year


def member_rows(
    session: Session,
    settings: Settings,
    actor: Actor,
    now: datetime,
    *,
    limit: int = PER_PAGE,
    offset: int = 0,
) -> list[MemberRow]:
    """Members the actor may see with their reporting status, overdue first (two queries)."""
    found = memberships.list_members(session, actor, limit=limit, offset=offset)
    return _member_rows(session, settings, actor, now, found)


def member_row(
    session: Session, settings: Settings, actor: Actor, membership_id: int, now: datetime
) -> MemberRow:
    """One member's row, after the service's scope check."""
    membership = memberships.get_membership(session, actor, membership_id)
    return _member_rows(session, settings, actor, now, [membership])[0]


def _member_rows(
    session: Session,
    settings: Settings,
    actor: Actor,
    now: datetime,
    found: list[Membership],
) -> list[MemberRow]:
    by_member = memberships.reports_of_many(session, [m.id for m in found])
    rows = []
    for m in found:
        reports = by_member[m.id]
        today = local_date(now, m.city.country.timezone)
        waiting = [r for r in reports if r.state in (R.OPEN, R.OVERDUE, R.RETURNED)]
        overdue = [r for r in waiting if r.due_on < today]
        upcoming = [r.due_on for r in waiting if r.due_on >= today]
        rows.append(
            MemberRow(
                membership=m,
                reports=reports,
                overdue=len(overdue),
                next_due=min(upcoming)
                if upcoming
                else memberships.next_due_date(settings, m, today),
                actions=MEMBERSHIP.allowed(m.state, actor.role),
            )
        )
    return rows


def report_actions(report: Report, actor: Actor) -> list[Step]:
    return REPORT.allowed(report.state, actor.role)


def reports_to_review(session: Session, actor: Actor) -> list[Report]:
    require_role(actor, Role.INSTITUTE, Role.ADMIN, doing="review progress reports")
    return list(
        session.scalars(
            select(Report).where(Report.state == R.SUBMITTED.value).order_by(Report.submitted_at)
        )
    )


def calls_overview(session: Session, settings: Settings, actor: Actor, now: datetime) -> list[Any]:
    """Calls with their windows, for the people who manage them."""
    require_role(actor, Role.ADMIN, Role.INSTITUTE, doing="manage calls")
    return list(call_service.list_calls(session, settings, now))
