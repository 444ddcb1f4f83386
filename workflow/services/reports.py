"""Progress-report services: a member submits, the Institute accepts or returns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
from workflow.actors import SYSTEM, Actor, require_city_scope
from workflow.calendar import on_or_before
from workflow.errors import InvalidInput
from workflow.machines import MEMBERSHIP, REPORT
from workflow.models import Membership, Report
from workflow.services.common import fire, get, publish
from workflow.services.memberships import CURRENT, timezone_of
from workflow.states import MembershipState as M
from workflow.states import ReportState as R


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
    check_submit_report(actor, report)
    if not summary.strip():
        raise SummaryMissing()
    membership = report.membership
    report.summary = summary.strip()
    report.submitted_at = now
    report.late = not on_or_before(now, report.due_on, timezone_of(membership))
    fire(
        session,
        REPORT,
        report,
        "submit",
        actor,
        now=now,
        version=version,
        comment="late" if report.late else "",
    )
    _restore_if_caught_up(session, membership, now)
    publish(session, settings)
    return report


class SummaryMissing(InvalidInput):
    catalogued = True  # the English message names the command line's option

    def __init__(self) -> None:
        super().__init__("The report needs its content: give a summary (--summary).")

    @property
    def reason(self) -> str:
        return "invalid_input.summary_missing"


class ReportsClosed(InvalidInput):
    catalogued = True

    def __init__(self, state: str) -> None:
        super().__init__(f"The membership is {state}; reports are closed.")
        self.params = {"state": state, "kind": "membership"}

    @property
    def reason(self) -> str:
        return "invalid_input.reports_closed"


# One check per action, raising what the action would raise: the services call them
# first, the pages call them to offer only what succeeds.


def check_submit_report(actor: Actor, report: Report) -> None:
    """Whether ``actor`` may submit ``report`` now: state, role, a current membership."""
    REPORT.resolve("submit", report.state, actor.role, kind="report", key=report.id)
    membership = report.membership
    if membership.state not in CURRENT:
        raise ReportsClosed(membership.state)


def check_review(actor: Actor, report: Report, trigger: str) -> None:
    """Whether ``actor`` may ``accept`` or ``return_for_revision`` ``report`` now."""
    if trigger not in ("accept", "return_for_revision"):
        raise InvalidInput("A report review is 'accept' or 'return_for_revision'.", "not_review")
    REPORT.resolve(trigger, report.state, actor.role, kind="report", key=report.id)


def _restore_if_caught_up(session: Session, membership: Membership, now: datetime) -> None:
    if membership.state not in (M.OVERDUE, M.INACTIVE):
        return
    tz = timezone_of(membership)
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
    report = _load_report(session, actor, report_id)
    check_review(actor, report, trigger)
    fire(session, REPORT, report, trigger, actor, now=now, comment=comment, version=version)
    report.decided_at = now
    publish(session, settings)
    return report


def reports_of(session: Session, actor: Actor, membership_id: int) -> list[Report]:
    membership = get(session, Membership, membership_id, "membership")
    city = membership.city
    require_city_scope(actor, city.id, city.country_code, "membership")
    return list(
        session.scalars(
            select(Report).where(Report.membership_id == membership_id).order_by(Report.due_on)
        )
    )


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
