"""The sweep: derive from the database and the calendar what is due, and do it.

It reconciles, it does not remember: every run reads the state, makes sure this year's
and next year's calls exist, announces open windows, expires what can no longer be
submitted, creates report obligations ahead of their due date, marks reports and
memberships overdue and inactive, and enqueues the reminders due today. Each kind of work
runs in its own short transaction; a failing kind is logged and the others go on. The
work is set-based (a few queries for the whole database; bulk ``UPDATE ... RETURNING``
and multi-row inserts), and every write is guarded so that several sweeps at once, in
several processes, change each row once and enqueue each message once (the outbox key).
"Today" is the subject's local date: the call's timezone for calls and applications, the
member country's timezone for reports.

The sweep itself writes no mail: it publishes each reminder occasion and each transition
(``workflow.events``) and the installed handlers (``notifications.wiring``) write the
outbox, each message with its context, not its text; the dispatcher renders it when it
sends. Occasions, recipients, rounds: ``notifications/table.py``; the context keys of
each: ``notifications/contexts.py``. The kinds run one after the other through
:class:`workflow.sweep_runner.Units`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Date, Integer, String, exists, func, insert, literal, select, update
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from workflow import events, reminders
from workflow.actors import SYSTEM
from workflow.calendar import as_utc, local_date
from workflow.db import dialect_insert
from workflow.events import Event, Occasion
from workflow.machines import APPLICATION, MEMBERSHIP, REPORT, Workflow
from workflow.models import (
    Application,
    AuditEvent,
    Call,
    City,
    Country,
    Membership,
    Report,
    UTCDateTime,
)
from workflow.services import calls as call_service
from workflow.services.memberships import report_rule
from workflow.states import ApplicationState as A
from workflow.states import MembershipState as M
from workflow.states import ReportState as R
from workflow.sweep_runner import SweepReport, Units, chunks

__all__ = ["SweepReport", "bulk_fire", "sweep"]

log = logging.getLogger("gnlc.sweep")


def sweep(
    factory: sessionmaker[Session], settings: Settings, *, now: datetime, dry_run: bool = False
) -> SweepReport:
    """Do (or, with ``dry_run``, only report) everything due at ``now``."""
    now = as_utc(now)
    report = SweepReport(now=now, dry_run=dry_run)
    work = _Work(settings, now, report)
    with Units(factory, report) as units:
        units.run("calls", work.ensure_calls)
        units.run("call_opened", work.occasion("call_opened"))
        units.run("expire", work.expire_applications)
        units.run("draft_reminder", work.occasion("draft_reminder"))
        units.run("commission_reminder", work.occasion("commission_reminder"))
        units.run("reports", work.create_reports)
        units.run("reports_overdue", work.mark_reports_overdue)
        units.run("memberships_overdue", work.mark_memberships_overdue)
        units.run("memberships_inactive", work.mark_memberships_inactive)
        units.run("report_reminders", work.occasion("report_reminders"))
        units.run("jury_review_reminder", work.occasion("jury_review_reminder"))
        units.run("jury_review_due_today", work.occasion("jury_review_due_today"))
    log.info(report.summary())
    return report


@dataclass
class _Work:
    settings: Settings
    now: datetime
    report: SweepReport
    days: reminders.LocalDays = field(init=False)

    def __post_init__(self) -> None:
        self.days = reminders.LocalDays(self.now, self.report.errors)

    # -- calls and applications -------------------------------------------------------

    def ensure_calls(self, session: Session) -> None:
        today = local_date(self.now, self.settings.calls.timezone)
        before = session.scalar(select(func.count(Call.id))) or 0
        for year in (today.year, today.year + 1):
            call_service.ensure_year(session, self.settings, year, self.now)
        after = session.scalar(select(func.count(Call.id))) or 0
        self.report.count("calls_created", after - before)

    def expire_applications(self, session: Session) -> None:
        rows = session.execute(
            select(
                Application.id,
                Application.state,
                Call.closes_on,
                Call.commission_deadline,
                Call.timezone,
            )
            .join(Call, Application.call_id == Call.id)
            .where(
                Application.state.in_([A.DRAFT.value, A.RETURNED.value]),
                # A local date is at most a day ahead of UTC's: a cheap pre-filter.
                Call.closes_on < self.now.date() + timedelta(days=1),
            )
        )
        due: list[tuple[int, str]] = []
        for app_id, state, closes_on, deadline, tz in rows:
            last_day = deadline if state == A.RETURNED.value else closes_on
            today = self.days(tz)
            # A day "ends at 23:59:59" local: from the next local midnight on it has passed.
            if today is not None and today > last_day:
                due.append((app_id, state))
        moved = bulk_fire(
            session,
            APPLICATION,
            Application,
            due,
            "expire",
            now=self.now,
            comment="not submitted before the deadline",
            values={"updated_at": self.now},
        )
        self.report.count("applications_expired", len(moved))

    # -- reports and memberships ------------------------------------------------------

    def create_reports(self, session: Session) -> None:
        """Every obligation owed by the horizon (today + ``open_days_before``, local) that
        does not exist yet: one ``INSERT ... SELECT ... WHERE NOT EXISTS`` per due date.

        A member admitted in year A owes the report due in year Y when
        ``Y - A - first_after_years`` is a non-negative multiple of ``interval_years``
        (``ReportRule``), and only due dates from its ``reports_from`` day on.
        """
        r = self.settings.reports
        rule = report_rule(self.settings)
        current = Membership.state.in_([s.value for s in reminders.CURRENT])
        first, earliest = session.execute(
            select(func.min(Membership.admission_year), func.min(Membership.reports_from)).where(
                current
            )
        ).one()
        zones = list(session.scalars(select(Country.timezone).distinct()))
        horizons = {
            tz: today + timedelta(days=r.open_days_before)
            for tz in zones
            if (today := self.days(tz)) is not None
        }
        if first is None or not horizons:
            return
        created = 0
        for year in range(first + r.first_after_years, max(horizons.values()).year + 1):
            due = rule.due_date(year - r.first_after_years, 1)
            owing = [tz for tz, horizon in horizons.items() if due <= horizon]
            # Before every member's first due day nobody owes it: no statement to run.
            if not owing or due < earliest:
                continue
            chosen = (
                select(
                    Membership.id,
                    literal(due, Date),
                    literal(R.OPEN.value, String),
                    literal(1, Integer),
                    literal("", String),
                    literal(False, Boolean),
                    literal(self.now, UTCDateTime()),
                )
                .join(City, Membership.city_id == City.id)
                .join(Country, City.country_code == Country.code)
                .where(
                    current,
                    Membership.admission_year <= year - r.first_after_years,
                    (year - r.first_after_years - Membership.admission_year) % r.interval_years
                    == 0,
                    Membership.reports_from <= due,
                    Country.timezone.in_(owing),
                    ~exists().where(Report.membership_id == Membership.id, Report.due_on == due),
                )
            )
            maker = dialect_insert(session)
            stmt = (
                maker(Report)
                .from_select(
                    [
                        "membership_id",
                        "due_on",
                        "state",
                        "version",
                        "summary",
                        "late",
                        "created_at",
                    ],
                    chosen,
                )
                .on_conflict_do_nothing(index_elements=["membership_id", "due_on"])
                .returning(Report.id)
            )
            created += len(session.execute(stmt).all())
        self.report.count("reports_created", created)

    def mark_reports_overdue(self, session: Session) -> None:
        rows = session.execute(
            select(Report.id, Report.state, Report.due_on, Country.timezone)
            .join(Membership, Report.membership_id == Membership.id)
            .join(City, Membership.city_id == City.id)
            .join(Country, City.country_code == Country.code)
            .where(
                Report.state == R.OPEN.value,
                Report.due_on < self.now.date() + timedelta(days=1),
                Membership.state.in_([s.value for s in reminders.CURRENT]),
            )
        )
        # A due date "ends at 23:59:59" local: overdue from the next local midnight on.
        due = []
        for rid, state, day, tz in rows:
            today = self.days(tz)
            if today is not None and today > day:
                due.append((rid, state))
        moved = bulk_fire(
            session, REPORT, Report, due, "mark_overdue", now=self.now, comment="past its due date"
        )
        self.report.count("reports_overdue", len(moved))

    def mark_memberships_overdue(self, session: Session) -> None:
        rows = session.execute(
            select(Membership.id, Membership.state)
            .join(Report, Report.membership_id == Membership.id)
            .where(Membership.state == M.ACTIVE.value, Report.state == R.OVERDUE.value)
            .distinct()
        )
        moved = bulk_fire(
            session,
            MEMBERSHIP,
            Membership,
            list(rows),
            "mark_overdue",
            now=self.now,
            comment="a progress report is past due",
            values={"state_since": self.now},
        )
        self.report.count("memberships_overdue", len(moved))

    def mark_memberships_inactive(self, session: Session) -> None:
        grace = timedelta(days=self.settings.reports.grace_days)
        rows = session.execute(
            select(Membership.id, Membership.state, Country.timezone, func.min(Report.due_on))
            .join(Report, Report.membership_id == Membership.id)
            .join(City, Membership.city_id == City.id)
            .join(Country, City.country_code == Country.code)
            .where(Membership.state == M.OVERDUE.value, Report.state == R.OVERDUE.value)
            .group_by(Membership.id, Membership.state, Country.timezone)
        )
        oldest: dict[int, date] = {}
        due: list[tuple[int, str]] = []
        for mid, state, tz, first_due in rows:
            today = self.days(tz)
            if today is not None and today > first_due + grace:
                due.append((mid, state))
                oldest[mid] = first_due
        comment = f"a progress report is more than {grace.days} days past due"
        moved = bulk_fire(
            session,
            MEMBERSHIP,
            Membership,
            due,
            "mark_inactive",
            now=self.now,
            comment=comment,
            values={"state_since": self.now},
        )
        self.report.count("memberships_inactive", len(moved))
        # The handlers' round of this notice is the oldest overdue due date.
        published = [
            Event(
                workflow=MEMBERSHIP.name,
                subject_type=MEMBERSHIP.name,
                subject_id=m.id,
                trigger="mark_inactive",
                source=M.OVERDUE.value,
                dest=M.INACTIVE.value,
                actor=SYSTEM,
                comment=comment,
                at=self.now,
                facts={
                    "first_due": oldest[m.id],
                    "inactive_since": self.days(m.city.country.timezone) or self.now.date(),
                },
            )
            for m in _memberships(session, moved)
        ]
        self.report.messages.extend(
            events.publish(session, self.settings, published, errors=self.report.errors)
        )

    # -- reminder occasions -----------------------------------------------------------

    def occasion(self, name: str) -> Callable[[Session], None]:
        """The unit that publishes the reminder occasion ``name``: the installed handlers
        find who is owed it today and enqueue what is new."""

        def work(session: Session) -> None:
            found = Occasion(name, self.now, self.days, self.report.errors)
            self.report.messages.extend(events.occur(session, self.settings, found))

        return work


def _memberships(session: Session, ids: Sequence[int]) -> list[Membership]:
    found: list[Membership] = []
    for part in chunks(ids):
        found.extend(session.scalars(select(Membership).where(Membership.id.in_(part))))
    return sorted(found, key=lambda m: m.id)


def bulk_fire(
    session: Session,
    workflow: Workflow,
    model: type[Any],
    rows: Sequence[tuple[int, str]],
    trigger: str,
    *,
    now: datetime,
    comment: str,
    values: dict[str, Any] | None = None,
) -> list[int]:
    """Fire ``trigger`` as the scheduler on many rows: one guarded UPDATE per source
    state and chunk, one audit event per row actually moved (a row another process moved
    first is left alone)."""
    by_state: dict[str, list[int]] = defaultdict(list)
    for key, state in rows:
        by_state[state].append(key)
    moved: list[int] = []
    events: list[dict[str, Any]] = []
    for state, ids in by_state.items():
        step = workflow.resolve(trigger, state, SYSTEM.role, kind=workflow.name, key=ids[0])
        for part in chunks(ids):
            stmt = (
                update(model)
                .where(model.id.in_(part), model.state == state)
                .values(state=step.dest.value, version=model.version + 1, **(values or {}))
                .returning(model.id)
                .execution_options(synchronize_session=False)
            )
            done = list(session.execute(stmt).scalars())
            moved.extend(done)
            events.extend(
                {
                    "at": now,
                    "actor_id": SYSTEM.user_id,
                    "actor_name": SYSTEM.name,
                    "role": SYSTEM.role.value,
                    "subject_type": workflow.name,
                    "subject_id": key,
                    "action": trigger,
                    "from_state": state,
                    "to_state": step.dest.value,
                    "comment": comment,
                }
                for key in done
            )
    if events:
        session.execute(insert(AuditEvent), events)
    return moved
