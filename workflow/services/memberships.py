"""Membership and progress-report services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from config import Settings
from notifications import recipients
from notifications.outbox import Owed
from notifications.recipients import Addressing
from workflow.actors import SYSTEM, Actor, require_city_scope, require_role
from workflow.calendar import ReportRule, local_date, on_or_before
from workflow.errors import InvalidInput
from workflow.machines import MEMBERSHIP, REPORT
from workflow.models import Application, AuditEvent, City, Membership, Report
from workflow.services.common import audit, fire, flush, get, notify
from workflow.states import MembershipState as M
from workflow.states import ReportState as R
from workflow.states import Role

CURRENT = (M.ACTIVE, M.OVERDUE, M.INACTIVE)
MEMBERSHIP_OCCASIONS = {
    "remove": "membership_removed",
    "reinstate": "membership_reinstated",
    "withdraw": "membership_withdrawn",
}


def report_rule(settings: Settings) -> ReportRule:
    r = settings.reports
    return ReportRule(r.interval_years, r.first_after_years, r.due_month, r.due_day)


def _timezone(membership: Membership) -> str:
    return membership.city.country.timezone


def admit(
    session: Session, settings: Settings, actor: Actor, app: Application, *, now: datetime
) -> Membership:
    """Membership starts on admission (called by the application's ``admit``)."""
    existing = session.scalars(select(Membership).where(Membership.city_id == app.city_id)).first()
    today = local_date(now, app.call.timezone)
    if existing is not None:
        # A corrected decision re-admits: the earlier membership comes back.
        if existing.state in CURRENT:
            return existing
        previous = existing.state
        existing.state, existing.state_since = M.ACTIVE.value, now
        existing.application_id = app.id
        audit(
            session,
            actor,
            subject_type="membership",
            subject_id=existing.id,
            action="admit",
            now=now,
            from_state=previous,
            to_state=M.ACTIVE.value,
        )
        ensure_reports(session, settings, existing, today=today, now=now)
        return existing
    membership = Membership(
        city_id=app.city_id,
        application_id=app.id,
        admitted_on=today,
        admission_year=today.year,
        reports_from=today,
        state=M.ACTIVE.value,
        state_since=now,
    )
    session.add(membership)
    flush(session, "membership", app.city_id)
    audit(
        session,
        actor,
        subject_type="membership",
        subject_id=membership.id,
        action="admit",
        now=now,
        to_state=M.ACTIVE.value,
        comment=f"application {app.id}",
    )
    ensure_reports(session, settings, membership, today=today, now=now)
    return membership


def revoke_admission(
    session: Session, actor: Actor, app: Application, *, now: datetime, comment: str
) -> None:
    """A corrected admission ends the membership it had started."""
    membership = session.scalars(
        select(Membership).where(Membership.application_id == app.id)
    ).first()
    if membership is None or membership.state not in CURRENT:
        return
    previous = membership.state
    membership.state, membership.state_since = M.REMOVED.value, now
    audit(
        session,
        actor,
        subject_type="membership",
        subject_id=membership.id,
        action="revoke_admission",
        now=now,
        from_state=previous,
        to_state=M.REMOVED.value,
        comment=comment,
    )
    flush(session, "membership", membership.id)


def import_member(
    session: Session,
    settings: Settings,
    actor: Actor,
    city: City,
    *,
    admitted_on: date,
    now: datetime,
) -> Membership:
    """An existing member brought in from elsewhere; reports are owed from today on."""
    require_role(actor, Role.ADMIN, Role.INSTITUTE, doing="import members")
    existing = session.scalars(select(Membership).where(Membership.city_id == city.id)).first()
    if existing is not None:
        return existing
    today = local_date(now, city.country.timezone)
    membership = Membership(
        city_id=city.id,
        application_id=None,
        admitted_on=admitted_on,
        admission_year=admitted_on.year,
        reports_from=max(today, admitted_on),
        state=M.ACTIVE.value,
        state_since=now,
    )
    session.add(membership)
    flush(session, "membership", city.id)
    audit(
        session,
        actor,
        subject_type="membership",
        subject_id=membership.id,
        action="import",
        now=now,
        to_state=M.ACTIVE.value,
        comment=f"admitted {admitted_on}",
    )
    ensure_reports(session, settings, membership, today=today, now=now)
    return membership


def owed_due_dates(settings: Settings, membership: Membership, today: date) -> list[date]:
    """Due dates whose obligation exists by ``today`` (created ahead of the due date)."""
    rule = report_rule(settings)
    lead = settings.reports.open_days_before
    horizon = date.fromordinal(today.toordinal() + lead)
    return [
        d
        for d in rule.due_dates(membership.admission_year, horizon)
        if d >= membership.reports_from
    ]


def ensure_reports(
    session: Session, settings: Settings, membership: Membership, *, today: date, now: datetime
) -> list[Report]:
    """Create the report obligations owed by ``today`` that do not exist yet."""
    have = set(session.scalars(select(Report.due_on).where(Report.membership_id == membership.id)))
    created = []
    for due in owed_due_dates(settings, membership, today):
        if due not in have:
            report = Report(
                membership_id=membership.id, due_on=due, state=R.OPEN.value, created_at=now
            )
            session.add(report)
            created.append(report)
    flush(session, "membership", membership.id)
    return created


def report_context(report: Report, settings: Settings, comment: str = "") -> dict[str, Any]:
    city = report.membership.city
    return {
        "report_id": report.id,
        "city": city.name,
        "country": city.country.name,
        "due_on": report.due_on,
        "late": report.late,
        "comment": comment,
        "network": settings.network.name,
        "url": f"{settings.web.public_url.rstrip('/')}/reports/{report.id}",
    }


def _load_report(
    session: Session, actor: Actor, report_id: int, *, with_membership: bool = False
) -> Report:
    """The report, locked; ``with_membership`` when the unit may change the membership
    too, which is then locked first (the global lock order, workflow.services.common)."""
    if with_membership:
        membership_id = session.scalar(select(Report.membership_id).where(Report.id == report_id))
        if membership_id is not None:
            get(session, Membership, membership_id, "membership", lock=True)
    report = get(session, Report, report_id, "report", lock=True)
    city = report.membership.city
    require_city_scope(actor, city.id, city.country_code, "report")
    return report


def get_report(session: Session, actor: Actor, report_id: int) -> Report:
    report = get(session, Report, report_id, "report")
    city = report.membership.city
    require_city_scope(actor, city.id, city.country_code, "report")
    return report


def submit_report(
    session: Session,
    settings: Settings,
    actor: Actor,
    report_id: int,
    *,
    now: datetime,
    summary: str,
    version: int | None = None,
) -> Report:
    """The member submits its progress report; after the due date it is recorded as late."""
    report = _load_report(session, actor, report_id, with_membership=True)
    REPORT.resolve("submit", report.state, actor.role, kind="report", key=report.id)
    if not summary.strip():
        raise InvalidInput("The report needs its content: give a summary (--summary).")
    membership = report.membership
    if membership.state not in CURRENT:
        raise InvalidInput(f"The membership is {membership.state}; reports are closed.")
    report.summary = summary.strip()
    report.submitted_at = now
    report.late = not on_or_before(now, report.due_on, _timezone(membership))
    _, event = fire(
        session,
        REPORT,
        report,
        "submit",
        actor,
        now=now,
        version=version,
        comment="late" if report.late else "",
    )
    city = membership.city
    notify(
        session,
        settings,
        [
            Owed(
                "report_submitted",
                "report",
                report.id,
                Addressing(to=(recipients.institute(settings),), cc=(recipients.city(city),)),
                report_context(report, settings),
                round=str(event.id),
            )
        ],
        now,
    )
    _restore_if_caught_up(session, membership, now)
    return report


def _restore_if_caught_up(session: Session, membership: Membership, now: datetime) -> None:
    if membership.state not in (M.OVERDUE, M.INACTIVE):
        return
    tz = _timezone(membership)
    pending = session.scalars(
        select(Report).where(
            Report.membership_id == membership.id,
            Report.state.in_([R.OPEN.value, R.OVERDUE.value]),
        )
    ).all()
    if any(not on_or_before(now, r.due_on, tz) for r in pending):
        return
    fire(
        session,
        MEMBERSHIP,
        membership,
        "restore",
        SYSTEM,
        now=now,
        comment="every due report is in",
    )
    membership.state_since = now


def review_report(
    session: Session,
    settings: Settings,
    actor: Actor,
    report_id: int,
    trigger: str,
    *,
    now: datetime,
    comment: str = "",
    version: int | None = None,
) -> Report:
    """The Institute accepts a report or returns it for revision."""
    if trigger not in ("accept", "return_for_revision"):
        raise InvalidInput("A report review is 'accept' or 'return_for_revision'.")
    report = _load_report(session, actor, report_id)
    _, event = fire(
        session, REPORT, report, trigger, actor, now=now, comment=comment, version=version
    )
    report.decided_at = now
    occasion = "report_accepted" if trigger == "accept" else "report_returned"
    notify(
        session,
        settings,
        [
            Owed(
                occasion,
                "report",
                report.id,
                Addressing(to=(recipients.city(report.membership.city),)),
                report_context(report, settings, comment.strip()),
                round=str(event.id),
            )
        ],
        now,
    )
    return report


def change_membership(
    session: Session,
    settings: Settings,
    actor: Actor,
    membership_id: int,
    trigger: str,
    *,
    now: datetime,
    comment: str = "",
    version: int | None = None,
) -> Membership:
    """Remove, reinstate or withdraw a membership."""
    if trigger not in ("remove", "reinstate", "withdraw"):
        raise InvalidInput("A membership change is 'remove', 'reinstate' or 'withdraw'.")
    membership = get(session, Membership, membership_id, "membership", lock=True)
    city = membership.city
    require_city_scope(actor, city.id, city.country_code, "membership")
    _, event = fire(
        session, MEMBERSHIP, membership, trigger, actor, now=now, comment=comment, version=version
    )
    membership.state_since = now
    if trigger == "reinstate":
        ensure_reports(
            session, settings, membership, today=local_date(now, _timezone(membership)), now=now
        )
    notify(
        session,
        settings,
        [
            Owed(
                MEMBERSHIP_OCCASIONS[trigger],
                "membership",
                membership.id,
                recipients.to_city_cc_commission(city),
                {
                    "city": city.name,
                    "country": city.country.name,
                    "comment": comment.strip(),
                    "network": settings.network.name,
                },
                round=str(event.id),
            )
        ],
        now,
    )
    return membership


def _visible_members(actor: Actor, state: str | None) -> Select[Membership]:
    query = select(Membership).join(City, Membership.city_id == City.id)
    if actor.role is Role.CITY:
        query = query.where(Membership.city_id == actor.city_id)
    elif actor.role is Role.COMMISSION:
        query = query.where(City.country_code == actor.country_code)
    if state:
        query = query.where(Membership.state == state)
    return query


def list_members(
    session: Session,
    actor: Actor,
    *,
    state: str | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[Membership]:
    """Members the actor may see: inactive, then overdue, then the rest, by city name."""
    standing = case(
        (Membership.state == M.INACTIVE.value, 0),
        (Membership.state == M.OVERDUE.value, 1),
        (Membership.state == M.ACTIVE.value, 2),
        else_=3,
    )
    query = _visible_members(actor, state).order_by(standing, City.name, Membership.id)
    return list(session.scalars(query.limit(limit).offset(offset)))


def count_members(session: Session, actor: Actor, *, state: str | None = None) -> int:
    query = _visible_members(actor, state)
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def reports_of_many(session: Session, membership_ids: Sequence[int]) -> dict[int, list[Report]]:
    """Reports of several members in one query (callers got the ids from a scoped list)."""
    found: dict[int, list[Report]] = {i: [] for i in membership_ids}
    if membership_ids:
        query = (
            select(Report)
            .where(Report.membership_id.in_(list(membership_ids)))
            .order_by(Report.due_on)
        )
        for report in session.scalars(query):
            found[report.membership_id].append(report)
    return found


def next_due_date(settings: Settings, membership: Membership, today: date) -> date:
    """The first due date by the rule on or after ``today`` that the member owes."""
    rule = report_rule(settings)
    start = max(today, membership.reports_from) - timedelta(days=1)
    return rule.next_due(membership.admission_year, start)


def get_membership(session: Session, actor: Actor, membership_id: int) -> Membership:
    """One membership, if the actor may see it."""
    membership = get(session, Membership, membership_id, "membership")
    city = membership.city
    require_city_scope(actor, city.id, city.country_code, "membership")
    return membership


def reports_of(session: Session, actor: Actor, membership_id: int) -> list[Report]:
    membership = get(session, Membership, membership_id, "membership")
    city = membership.city
    require_city_scope(actor, city.id, city.country_code, "membership")
    return list(
        session.scalars(
            select(Report).where(Report.membership_id == membership_id).order_by(Report.due_on)
        )
    )


def due_dates(settings: Settings, membership: Membership, count: int = 5) -> list[date]:
    """The member's next ``count`` due dates by the rule, from its first owed one."""
    rule = report_rule(settings)
    found: list[date] = []
    number = 1
    while len(found) < count:
        due = rule.due_date(membership.admission_year, number)
        if due >= membership.reports_from:
            found.append(due)
        number += 1
    return found


def membership_history(session: Session, actor: Actor, membership_id: int) -> list[AuditEvent]:
    membership = get(session, Membership, membership_id, "membership")
    city = membership.city
    require_city_scope(actor, city.id, city.country_code, "membership")
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_type == "membership", AuditEvent.subject_id == membership_id)
            .order_by(AuditEvent.id)
        )
    )
