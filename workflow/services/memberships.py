"""Membership services: admission, import, changes, the report obligations it owes."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
from workflow.actors import Actor, require_city_scope, require_role
from workflow.calendar import ReportRule, local_date
from workflow.errors import InvalidInput
from workflow.machines import MEMBERSHIP
from workflow.models import AuditEvent, City, Membership, Report
from workflow.services import effects
from workflow.services.common import flush, get, publish
from workflow.snapshots import ApplicationView
from workflow.states import MembershipState as M
from workflow.states import ReportState as R
from workflow.states import Role

CURRENT = (M.ACTIVE, M.OVERDUE, M.INACTIVE)


def report_rule(settings: Settings) -> ReportRule:
    r = settings.reports
    return ReportRule(r.interval_years, r.first_after_years, r.due_month, r.due_day)


def timezone_of(membership: Membership) -> str:
    return membership.city.country.timezone


def admit(
    session: Session,
    settings: Settings,
    actor: Actor,
    app: ApplicationView,
    *,
    now: datetime,
    on: date | None = None,
) -> Membership:
    """Membership starts when the admission is announced (``on``: the announcement's
    date; else the local day of ``now``), by the membership table's ``admit`` row."""
    existing = session.scalars(select(Membership).where(Membership.city_id == app.city_id)).first()
    today = on or local_date(now, app.call.timezone)
    if existing is not None:
        # A corrected decision re-admits: the earlier membership comes back.
        if existing.state in CURRENT:
            return existing
        existing.application_id = app.id
        existing.state_since = now
        effects.fire_step(
            session, settings, MEMBERSHIP, existing, "admit", actor, now=now, today=today
        )
        return existing
    membership = Membership(
        city_id=app.city_id,
        application_id=app.id,
        admitted_on=today,
        admission_year=today.year,
        reports_from=today,
        state_since=now,
    )
    effects.start(
        session,
        settings,
        MEMBERSHIP,
        membership,
        "admit",
        actor,
        now=now,
        comment=f"application {app.id}",
        today=today,
    )
    return membership


@effects.effect("admit_membership")
def _admit_membership(applied: effects.Applied) -> None:
    """The announced admission: the city becomes a member on the announcement's date
    (``applied.today``)."""
    admit(
        applied.session,
        applied.settings,
        applied.actor,
        applied.record,
        now=applied.now,
        on=applied.today,
    )


@effects.effect("revoke_membership")
def _revoke_membership(applied: effects.Applied) -> None:
    """A corrected admission (the application's ``reopen``) ends the membership it had
    started, by the membership table's internal ``revoke_admission`` row."""
    app: ApplicationView = applied.record
    membership = applied.session.scalars(
        select(Membership).where(Membership.application_id == app.id)
    ).first()
    if membership is None or membership.state not in CURRENT:
        return
    membership.state_since = applied.now
    effects.fire_step(
        applied.session,
        applied.settings,
        MEMBERSHIP,
        membership,
        "revoke_admission",
        applied.actor,
        now=applied.now,
        comment=applied.comment,
    )


@effects.effect("create_report_obligations")
def _create_report_obligations(applied: effects.Applied) -> None:
    """Admitted, imported or reinstated: the report obligations owed by today."""
    membership: Membership = applied.record
    today = applied.today or local_date(applied.now, timezone_of(membership))
    # A membership this step created (no source state) owes no report yet to look for.
    ensure_reports(
        applied.session, applied.settings, membership, today=today, now=applied.now,
        new=applied.source is None,
    )  # fmt: skip


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
        state_since=now,
    )
    effects.start(
        session,
        settings,
        MEMBERSHIP,
        membership,
        "import",
        actor,
        now=now,
        comment=f"admitted {admitted_on}",
        today=today,
    )
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
    session: Session,
    settings: Settings,
    membership: Membership,
    *,
    today: date,
    now: datetime,
    new: bool = False,
) -> list[Report]:
    """Create the report obligations owed by ``today`` that do not exist yet (``new``:
    the membership was created in this transaction, so it has none)."""
    have: set[date] = set()
    if not new:
        query = select(Report.due_on).where(Report.membership_id == membership.id)
        have = set(session.scalars(query))
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
        raise InvalidInput(
            "A membership change is 'remove', 'reinstate' or 'withdraw'.", "not_change"
        )
    membership = get(session, Membership, membership_id, "membership", lock=True)
    city = membership.city
    require_city_scope(actor, city.id, city.country_code, "membership")
    effects.fire_step(
        session,
        settings,
        MEMBERSHIP,
        membership,
        trigger,
        actor,
        now=now,
        comment=comment,
        version=version,
    )
    membership.state_since = now
    publish(session, settings)
    return membership


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


#: The changes of a membership a person makes (``change_membership``).
CHANGES = ("remove", "reinstate", "withdraw")


def check_change(session: Session, actor: Actor, membership_id: int, trigger: str) -> Membership:
    """The membership, if ``actor`` may make the change ``trigger`` to it now (the
    confirmation before :func:`change_membership`); the refusal otherwise."""
    if trigger not in CHANGES:
        raise InvalidInput(
            "A membership change is 'remove', 'reinstate' or 'withdraw'.", "not_change"
        )
    membership = get_membership(session, actor, membership_id)
    MEMBERSHIP.resolve(trigger, membership.state, actor.role, kind="membership", key=membership.id)
    return membership
