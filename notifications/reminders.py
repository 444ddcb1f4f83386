"""Who is owed a reminder today: the queries behind the sweep's reminder occasions.

The schedule (which round is due on a local date) is the domain's:
:mod:`workflow.reminders`. Recipients and context come from the occasion's row in
:mod:`notifications.table`. Each query skips subjects whose message is already in the
outbox (:func:`unsent`), so a sweep with nothing new to say reads no rows. The report
reminders are inserted set-based by :mod:`notifications.report_sql`;
:func:`iter_report_reminders` is the same round one message at a time (tests, benches).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from functools import partial
from typing import Any

from sqlalchemy import exists, literal, select
from sqlalchemy.orm import Session

from config import Settings
from notifications import contexts, table
from notifications.models import OutboxMessage
from notifications.outbox import Owed, key_sql
from notifications.recipients import Recipient
from notifications.table import Parties
from workflow.calendar import local_date
from workflow.models import (
    Application,
    Call,
    City,
    Country,
    JuryAssignment,
    Membership,
    Report,
    User,
)
from workflow.names import commission_name
from workflow.reminders import (
    CURRENT,
    LIVE,
    ReportRound,
    Round,
    days_before,
    due_round,
    escalated,
    live_calls,
    report_pending,
    report_round_groups,
)
from workflow.states import ApplicationState as A
from workflow.states import AssignmentState as J

Days = Callable[[str], date | None]


def unsent(subject_type: str, subject_id: Any, occasion: str, rnd: str, address: Any) -> Any:
    """SQL: no outbox row has this message's key yet."""
    key = key_sql(subject_type, subject_id, occasion, rnd, address)
    return ~exists().where(OutboxMessage.key == key)


def _city(name: str, email: str, contact: str, language: str) -> Recipient:
    return Recipient(email, contact or name, language)


def call_opened(session: Session, settings: Settings, days: Days, now: Any) -> list[Owed]:
    """Each open call: every Commission, and every city that is neither a member nor
    already applying in it."""
    mail = table.REMINDERS["call_opened"]
    owed: list[Owed] = []
    for call in live_calls(session, now):
        today = days(call.timezone)
        if today is None or not call.opens_on <= today <= call.closes_on:
            continue
        for country in session.scalars(select(Country).order_by(Country.code)):
            parties = Parties(commission=table.commission_recipient(country))
            owed.append(
                Owed(
                    mail.occasion,
                    "call",
                    call.id,
                    mail.addressing(parties, settings),
                    mail.context(
                        call,
                        settings,
                        audience="commission",
                        name=commission_name(country, country.language),
                    ),
                    round="open",
                )
            )
        member = exists().where(
            Membership.city_id == City.id, Membership.state.in_([s.value for s in CURRENT])
        )
        applying = exists().where(
            Application.city_id == City.id,
            Application.call_id == call.id,
            Application.state.in_([s.value for s in LIVE]),
        )
        rows = session.execute(
            select(City.id, City.name, City.contact_email, City.contact_name, City.language)
            .where(
                ~member,
                ~applying,
                unsent("call", literal(call.id), mail.occasion, "open", City.contact_email),
            )
            .order_by(City.id)
        )
        for _, name, email, contact, language in rows:
            parties = Parties(city=_city(name, email, contact, language))
            owed.append(
                Owed(
                    mail.occasion,
                    "call",
                    call.id,
                    mail.addressing(parties, settings),
                    mail.context(call, settings, audience="city", name=name),
                    round="open",
                )
            )
    return owed


def draft_reminders(session: Session, settings: Settings, days: Days, now: Any) -> list[Owed]:
    """Drafts before their window closes; returned applications before the deadline.

    The round depends only on the call and the state, so one query per (call, state)
    with a round due returns the applications not yet reminded.
    """
    mail = table.REMINDERS["draft_reminder"]
    offsets = settings.applications.draft_reminder_days_before_close
    owed: list[Owed] = []
    for call in live_calls(session, now) if offsets else []:
        today = days(call.timezone)
        if today is None or today < call.opens_on:
            continue
        for state, target in (
            (A.DRAFT.value, call.closes_on),
            (A.RETURNED.value, call.commission_deadline),
        ):
            found = due_round(days_before(target, offsets), today)
            if found is None:
                continue
            # The target date is part of the round: an extended call reminds again.
            rnd = f"{state}-{found.name}@{target.isoformat()}"
            rows = session.execute(
                select(
                    Application.id,
                    City.name,
                    City.contact_email,
                    City.contact_name,
                    City.language,
                )
                .join(City, Application.city_id == City.id)
                .where(
                    Application.call_id == call.id,
                    Application.state == state,
                    unsent("application", Application.id, mail.occasion, rnd, City.contact_email),
                )
                .order_by(Application.id)
            ).all()
            for app_id, name, email, contact, language in rows:
                owed.append(
                    Owed(
                        mail.occasion,
                        "application",
                        app_id,
                        mail.addressing(
                            Parties(city=_city(name, email, contact, language)), settings
                        ),
                        mail.context(
                            call,
                            settings,
                            application_id=app_id,
                            city=name,
                            returned=state == A.RETURNED.value,
                            deadline=target,
                            today=today,
                        ),
                        round=rnd,
                    )
                )
    return owed


def commission_reminders(session: Session, settings: Settings, days: Days, now: Any) -> list[Owed]:
    """One message per Commission listing its applications still undecided."""
    mail = table.REMINDERS["commission_reminder"]
    offsets = settings.applications.commission_reminder_days_before_deadline
    owed: list[Owed] = []
    for call in live_calls(session, now):
        today = days(call.timezone)
        if today is None:
            continue
        found = due_round(days_before(call.commission_deadline, offsets), today)
        if found is None:
            continue
        rows = session.execute(
            select(Application.id, Application.submitted_at, City.name, Country)
            .join(City, Application.city_id == City.id)
            .join(Country, City.country_code == Country.code)
            .where(Application.call_id == call.id, Application.state == A.SUBMITTED.value)
            .order_by(Country.code, City.name, Application.id)
        )
        pending: dict[str, tuple[Country, list[dict[str, Any]]]] = {}
        for app_id, submitted_at, city_name, country in rows:
            entry = pending.setdefault(country.code, (country, []))
            entry[1].append(
                {
                    "application_id": app_id,
                    "city": city_name,
                    "submitted_on": local_date(submitted_at or now, call.timezone),
                    "url": contexts.portal(settings, f"/applications/{app_id}"),
                }
            )
        for code, (country, items) in pending.items():
            parties = Parties(commission=table.commission_recipient(country))
            owed.append(
                Owed(
                    mail.occasion,
                    "call",
                    call.id,
                    mail.addressing(parties, settings),
                    mail.context(call, settings, country=country, pending=items, today=today),
                    round=f"{code}-{found.name}@{call.commission_deadline.isoformat()}",
                )
            )
    return owed


def iter_report_reminders(session: Session, settings: Settings, days: Days) -> Iterator[Owed]:
    """Report reminders before, on and after the due date, Cc the Commission late on, one
    ``Owed`` at a time: the rows :mod:`notifications.report_sql` inserts set-based."""
    groups, countries = report_round_groups(session, settings, days)
    for group in groups:
        mail = table.REMINDERS[group.occasion]
        found = group.found
        missing = unsent("report", Report.id, mail.occasion, found.name, City.contact_email)
        if escalated(found, settings):
            missing = missing | unsent(
                "report", Report.id, mail.occasion, found.name, Country.commission_email
            )
        rows = session.execute(
            select(
                Report.id,
                Report.due_on,
                City.name,
                City.contact_email,
                City.contact_name,
                City.language,
                City.country_code,
                City.names,
            )
            .join(Membership, Report.membership_id == Membership.id)
            .join(City, Membership.city_id == City.id)
            .join(Country, City.country_code == Country.code)
            .where(
                *report_pending(),
                Report.due_on == group.due,
                Country.timezone.in_(list(group.todays)),
                missing,
            )
            .order_by(Report.id)
        )
        for row in rows.all():  # read them all before the sweep writes outbox rows
            yield report_owed(row, settings, countries[row.country_code], group)


def report_owed(
    row: Sequence[Any], settings: Settings, country: Country, group: ReportRound
) -> Owed:
    report_id, _, name, email, contact, language, _, *more = row
    mail = table.REMINDERS[group.occasion]
    parties = Parties(
        city=_city(name, email, contact, language),
        commission=table.commission_recipient(country),
        escalated=escalated(group.found, settings),
    )
    return Owed(
        mail.occasion,
        "report",
        report_id,
        mail.addressing(parties, settings),
        mail.context(
            contexts.Values(report_id, name, country, more[0] if more else None), settings, group
        ),
        round=group.found.name,
    )


def _jury_reminders(
    occasion: str, session: Session, settings: Settings, days: Days, now: Any
) -> list[Owed]:
    """One message per juror and call with a review deadline: the juror's assignments of
    the call still neither scored nor declined; ``d-N`` rounds before the deadline
    (``jury_review_reminder``), ``due`` on the day (``jury_review_due_today``)."""
    mail = table.REMINDERS[occasion]
    offsets = settings.jury.reminder_days_before_deadline
    owed: list[Owed] = []
    calls = session.scalars(
        select(Call)
        .where(
            Call.cancelled_at.is_(None),
            Call.review_deadline.is_not(None),
            Call.review_deadline >= now.date() - timedelta(days=2),
        )
        .order_by(Call.id)
    )
    for call in calls:
        deadline = call.review_deadline
        today = days(call.timezone)
        if deadline is None or today is None:
            continue
        rounds = [
            *days_before(deadline, offsets, last_day=deadline - timedelta(days=1)),
            Round("due", deadline, deadline),
        ]
        found = due_round(rounds, today)
        if found is None or (found.name == "due") != (occasion == "jury_review_due_today"):
            continue
        rows = session.execute(
            select(JuryAssignment.id, Application.id, City.name, City.country_code, User)
            .join(Application, JuryAssignment.application_id == Application.id)
            .join(City, Application.city_id == City.id)
            .join(User, JuryAssignment.juror_id == User.id)
            .where(
                Application.call_id == call.id,
                JuryAssignment.state == J.ASSIGNED.value,
                User.active,
            )
            .order_by(User.id, City.name, JuryAssignment.id)
        )
        pending: dict[int, tuple[User, list[dict[str, Any]]]] = {}
        for assignment_id, app_id, city_name, code, juror in rows:
            entry = pending.setdefault(juror.id, (juror, []))
            entry[1].append(
                {
                    "application_id": app_id,
                    "city": city_name,
                    "country_code": code,
                    "url": contexts.portal(settings, f"/jury/assignments/{assignment_id}"),
                }
            )
        for juror, items in pending.values():
            language = juror.language or settings.network.language
            parties = Parties(user=Recipient(juror.email, juror.name, language))
            owed.append(
                Owed(
                    mail.occasion,
                    "call",
                    call.id,
                    mail.addressing(parties, settings),
                    mail.context(call, settings, juror=juror.name, pending=items, today=today),
                    round=f"{found.name}@{deadline.isoformat()}",
                )
            )
    return owed


#: The per-message finders of the sweep's occasions (report reminders: report_sql).
FINDERS: dict[str, Callable[[Session, Settings, Days, Any], list[Owed]]] = {
    "call_opened": call_opened,
    "draft_reminder": draft_reminders,
    "commission_reminder": commission_reminders,
    "jury_review_reminder": partial(_jury_reminders, "jury_review_reminder"),
    "jury_review_due_today": partial(_jury_reminders, "jury_review_due_today"),
}
