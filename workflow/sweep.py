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

Occasions and the template context keys they get (besides ``recipient``, ``date`` and
``lang`` that every template has):

``call_opened`` (To each Commission; To each city neither member nor applying)
    call, opens_on, closes_on, commission_deadline, timezone, quota, network, url,
    audience ("commission" or "city"), name (the Commission's or the city's name)
``draft_reminder`` (To the city)
    the call keys, application_id, city, returned (bool), deadline (closes_on for a
    draft, commission_deadline for a returned application), days_left, url
``commission_reminder`` (To the Commission; one per Commission and round)
    the call keys, commission, country, days_left, url, pending: a list of
    {application_id, city, submitted_on, url}
``report_reminder`` / ``report_due_today`` / ``report_overdue`` (To the city; Cc the
Commission once overdue for ``reports.escalate_after_days``)
    report_id, city, country, commission, due_on, timezone, days_left, days_overdue,
    escalated (bool), grace_until (the last day before the membership becomes inactive),
    network, url
``membership_inactive`` (To the city, Cc the Commission)
    city, country, commission, due_on (the oldest overdue report), grace_days,
    inactive_since, network, url

The sweep stores each message's context, not its text; the dispatcher renders it when it
sends (:mod:`workflow.sweep_mail`). Rounds in the outbox key: ``open``
(call_opened); ``<state>-d-N@<date>`` (draft_reminder); ``<country>-d-N@<deadline>``
(commission_reminder); ``d-N``, ``due``, ``overdue-K`` (reports, see
:func:`workflow.reminders.report_rounds`); ``due-<date>`` (membership_inactive).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Date, Integer, String, exists, func, insert, literal, select, update
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from notifications.outbox import Owed
from notifications.recipients import Addressing
from workflow import reminders, report_mail, sweep_mail
from workflow.actors import SYSTEM
from workflow.calendar import as_utc, local_date
from workflow.db import dialect_insert, transaction
from workflow.errors import Conflict
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
from workflow.sweep_mail import PlannedMessage, chunks

log = logging.getLogger("gnlc.sweep")


@dataclass
class SweepReport:
    """What one sweep changed, counted per kind, and the messages it enqueued."""

    now: datetime
    dry_run: bool
    changes: dict[str, int] = field(default_factory=dict)
    messages: list[PlannedMessage] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def count(self, kind: str, number: int) -> None:
        self.changes[kind] = self.changes.get(kind, 0) + number

    @property
    def enqueued(self) -> int:
        return len(self.messages)

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "changes": dict(self.changes),
            "messages": [
                {
                    "occasion": m.occasion,
                    "to": list(m.to),
                    "cc": list(m.cc),
                    "language": m.language,
                    "key": m.key,
                }
                for m in self.messages
            ],
            "errors": list(self.errors),
        }

    def summary(self) -> str:
        changed = ", ".join(f"{k} {v}" for k, v in sorted(self.changes.items()) if v) or "none"
        mode = "dry run: " if self.dry_run else ""
        return (
            f"{mode}sweep at {self.now.isoformat()}: changes: {changed}; "
            f"messages: {self.enqueued}; errors: {len(self.errors)}"
        )


class _Units:
    """Runs each kind of work in its own transaction; in a dry run, in savepoints of one
    transaction that is rolled back at the end, so later kinds see earlier changes."""

    def __init__(self, factory: sessionmaker[Session], report: SweepReport) -> None:
        self.factory = factory
        self.report = report
        self.shared: Session | None = None

    def __enter__(self) -> _Units:
        if self.report.dry_run:
            self.shared = self.factory()
            self.shared.begin()
        return self

    def __exit__(self, *_: object) -> None:
        if self.shared is not None:
            self.shared.rollback()
            self.shared.close()

    def run(self, name: str, work: Callable[[Session], None]) -> None:
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                if self.shared is not None:
                    with self.shared.begin_nested():
                        work(self.shared)
                else:
                    with transaction(self.factory) as session:
                        work(session)
                log.debug("sweep %s took %.3f s", name, time.perf_counter() - started)
                return
            except Conflict as exc:
                # Another process wrote the same row meanwhile: once more sees its result.
                if attempt == 1:
                    log.info("sweep %s: %s; trying again", name, exc)
                    continue
                self._failed(name, exc)
            except Exception as exc:  # a broken kind must not stop the others
                self._failed(name, exc)
                return

    def _failed(self, name: str, exc: Exception) -> None:
        log.exception("sweep %s failed: %s", name, exc)
        self.report.errors.append(f"{name}: {type(exc).__name__}: {exc}")


def sweep(
    factory: sessionmaker[Session], settings: Settings, *, now: datetime, dry_run: bool = False
) -> SweepReport:
    """Do (or, with ``dry_run``, only report) everything due at ``now``."""
    now = as_utc(now)
    report = SweepReport(now=now, dry_run=dry_run)
    work = _Work(settings, now, report)
    with _Units(factory, report) as units:
        units.run("calls", work.ensure_calls)
        units.run("call_opened", work.enqueue_from(reminders.call_opened))
        units.run("expire", work.expire_applications)
        units.run("draft_reminder", work.enqueue_from(reminders.draft_reminders))
        units.run("commission_reminder", work.enqueue_from(reminders.commission_reminders))
        units.run("reports", work.create_reports)
        units.run("reports_overdue", work.mark_reports_overdue)
        units.run("memberships_overdue", work.mark_memberships_overdue)
        units.run("memberships_inactive", work.mark_memberships_inactive)
        units.run("report_reminders", work.enqueue_report_reminders)
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
        first = session.scalar(select(func.min(Membership.admission_year)).where(current))
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
            if not owing:
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
        moved = bulk_fire(
            session,
            MEMBERSHIP,
            Membership,
            due,
            "mark_inactive",
            now=self.now,
            comment=f"a progress report is more than {grace.days} days past due",
            values={"state_since": self.now},
        )
        self.report.count("memberships_inactive", len(moved))
        owed = [self._inactive_notice(m, oldest[m.id]) for m in _memberships(session, moved)]
        self.enqueue(session, owed)

    def _inactive_notice(self, membership: Membership, first_due: date) -> Owed:
        city = membership.city
        country = city.country
        return Owed(
            "membership_inactive",
            "membership",
            membership.id,
            Addressing(
                to=(
                    reminders.city_recipient(
                        city.name, city.contact_email, city.contact_name, city.language
                    ),
                ),
                cc=(reminders.commission_recipient(country),),
            ),
            {
                "city": city.name,
                "country": country.name,
                "commission": country.commission_name,
                "due_on": first_due,
                "grace_days": self.settings.reports.grace_days,
                "inactive_since": self.days(country.timezone) or self.now.date(),
                "network": self.settings.network.name,
                "url": reminders.portal(self.settings, f"/members/{membership.id}"),
            },
            round=f"due-{first_due.isoformat()}",
        )

    # -- messages ---------------------------------------------------------------------

    def enqueue_from(
        self, find: Callable[[Session, Settings, reminders.LocalDays], Iterable[Owed]]
    ) -> Callable[[Session], None]:
        def work(session: Session) -> None:
            self.enqueue(session, find(session, self.settings, self.days))

        return work

    def enqueue_report_reminders(self, session: Session) -> None:
        """Report reminders, set-based: one INSERT ... SELECT per round (a handful a day)."""
        groups, _ = reminders.report_round_groups(session, self.settings, self.days)
        for group in groups:
            self.report.messages.extend(
                report_mail.enqueue_round(session, self.settings, group, now=self.now)
            )

    def enqueue(self, session: Session, owed: Iterable[Owed]) -> None:
        """Render and insert only the occasions whose keys are not in the outbox yet."""
        self.report.messages.extend(
            sweep_mail.enqueue(
                session,
                owed,
                now=self.now,
                from_address=self.settings.mail.from_address,
                errors=self.report.errors,
                log=log,
            )
        )


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
