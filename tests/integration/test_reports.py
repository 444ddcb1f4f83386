"""Memberships and progress reports on SQLite and PostgreSQL: admission starts a
membership, obligations appear ahead of each due date, late reports are recorded as late,
the Institute accepts or returns them, and a late report restores the membership."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from notifications.models import OutboxMessage
from tests.conftest import INSTITUTE, World, utc
from workflow.actors import SYSTEM
from workflow.db import transaction
from workflow.errors import InvalidInput, NotAllowed, TransitionNotAllowed
from workflow.machines import MEMBERSHIP, REPORT
from workflow.models import AuditEvent, Membership, Report
from workflow.services import announcements, decisions, memberships, submissions
from workflow.services import reports as report_service
from workflow.services.common import fire

NETWORK = "learningcities@unesco.org"
JELGAVA = "pasts@jelgava.lv"
LV = World.commission("LV")


def admit(world: World, city: str, year: int, on: datetime) -> int:
    """Take ``city`` through the Commission route in ``year``; return its membership id."""
    now = utc(year, 3, 10)
    app_id = world.draft(city, now)
    with transaction(world.factory) as session:
        submissions.submit(session, world.settings, world.city(city), app_id, now=now)
        submissions.endorse(session, world.settings, LV, app_id, now=now)
        decisions.decide(session, world.settings, INSTITUTE, app_id, "start_review", now=now)
        decisions.decide(session, world.settings, INSTITUTE, app_id, "admit", now=on)
        announcements.announce(
            session, world.settings, INSTITUTE, [app_id], on=on.date(), title="New", now=on
        )
    with world.factory() as session:
        return session.scalars(
            select(Membership.id).where(Membership.application_id == app_id)
        ).one()


def ensure(world: World, membership_id: int, today: date) -> list[date]:
    with transaction(world.factory) as session:
        membership = session.get(Membership, membership_id)
        assert membership is not None
        created = memberships.ensure_reports(
            session, world.settings, membership, today=today, now=utc(today.year, 1, 1)
        )
        return [r.due_on for r in created]


def report_id(world: World, membership_id: int, due: date) -> int:
    with world.factory() as session:
        return session.scalars(
            select(Report.id).where(Report.membership_id == membership_id, Report.due_on == due)
        ).one()


def load_report(world: World, key: int) -> Report:
    with world.factory() as session:
        found = session.get(Report, key)
        assert found is not None
        return found


def load_membership(world: World, key: int) -> Membership:
    with world.factory() as session:
        found = session.get(Membership, key)
        assert found is not None
        return found


def test_seed_timeline_member_admitted_2016(world: World) -> None:
    membership_id = admit(world, "Jelgava", 2016, utc(2016, 6, 1))
    with world.factory() as session:
        membership = session.get(Membership, membership_id)
        assert membership is not None
        assert (membership.state, membership.admission_year, membership.admitted_on) == (
            "active",
            2016,
            date(2016, 6, 1),
        )
        assert memberships.due_dates(world.settings, membership, 4) == [
            date(2018, 3, 31),
            date(2020, 3, 31),
            date(2022, 3, 31),
            date(2024, 3, 31),
        ]
        # nothing is owed at admission: the first report is almost two years away
        assert report_service.reports_of(session, INSTITUTE, membership_id) == []
    # the obligation appears 120 days ahead (open_days_before), not a day earlier
    assert ensure(world, membership_id, date(2017, 11, 30)) == []
    assert ensure(world, membership_id, date(2017, 12, 1)) == [date(2018, 3, 31)]
    assert ensure(world, membership_id, date(2017, 12, 2)) == []  # never twice
    # a system that was down for years catches up with every missed obligation
    assert ensure(world, membership_id, date(2022, 1, 1)) == [date(2020, 3, 31), date(2022, 3, 31)]


def test_admission_creates_the_first_obligation_once_the_lead_time_is_reached(
    world: World,
) -> None:
    # admitted late in the year before a due year with the lead time already reached
    custom = world.settings.with_overrides(reports={"first_after_years": 1})
    world.settings = custom
    membership_id = admit(world, "Jelgava", 2027, utc(2027, 12, 15))
    with world.factory() as session:
        reports = report_service.reports_of(session, INSTITUTE, membership_id)
        assert [(r.due_on, r.state, r.late) for r in reports] == [
            (date(2028, 3, 31), "open", False)
        ]


def test_no_report_due_before_admission(world: World) -> None:
    # first_after_years = 0: the 31 March of the admission year precedes a June admission
    world.settings = world.settings.with_overrides(reports={"first_after_years": 0})
    membership_id = admit(world, "Jelgava", 2027, utc(2027, 6, 1))
    with world.factory() as session:
        membership = session.get(Membership, membership_id)
        assert membership is not None
        assert memberships.due_dates(world.settings, membership, 2) == [
            date(2029, 3, 31),
            date(2031, 3, 31),
        ]


def test_on_time_and_late_submission_accept_and_return(world: World) -> None:
    f = world.factory
    city = world.city("Jelgava")
    membership_id = admit(world, "Jelgava", 2027, utc(2027, 9, 1))
    assert ensure(world, membership_id, date(2028, 12, 1)) == [date(2029, 3, 31)]
    rid = report_id(world, membership_id, date(2029, 3, 31))
    # 31 March 2029 23:59:59 in Riga (summer time since 25 March, UTC+3) is 20:59:59 UTC
    on_time = utc(2029, 3, 31, 20, 59, 59)
    with pytest.raises(InvalidInput, match="summary"), transaction(f) as session:
        report_service.submit_report(session, world.settings, city, rid, now=on_time, summary=" ")
    with transaction(f) as session:
        report_service.submit_report(
            session, world.settings, city, rid, now=on_time, summary="Festival held."
        )
    report = load_report(world, rid)
    assert (report.state, report.late, report.submitted_at) == ("submitted", False, on_time)
    with f() as session:
        mail = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.subject_type == "report", OutboxMessage.subject_id == rid
            )
        ).all()
        assert {(m.occasion, m.recipient, tuple(m.to_addrs), tuple(m.cc_addrs)) for m in mail} == {
            ("report_submitted", NETWORK, (NETWORK,), (JELGAVA,)),
            ("report_submitted", JELGAVA, (NETWORK,), (JELGAVA,)),
        }

    with pytest.raises(NotAllowed), transaction(f) as session:
        report_service.review_report(session, world.settings, city, rid, "accept", now=on_time)
    with pytest.raises(InvalidInput, match="comment"), transaction(f) as session:
        report_service.review_report(
            session, world.settings, INSTITUTE, rid, "return_for_revision", now=on_time
        )
    returned_at = utc(2029, 4, 10)
    with transaction(f) as session:
        report_service.review_report(
            session,
            world.settings,
            INSTITUTE,
            rid,
            "return_for_revision",
            now=returned_at,
            comment="Add figures",
        )
    assert load_report(world, rid).state == "returned"
    # the revision comes after the due date: it is recorded as late
    resubmitted = on_time + timedelta(days=20)
    with transaction(f) as session:
        report_service.submit_report(
            session, world.settings, city, rid, now=resubmitted, summary="With figures."
        )
    report = load_report(world, rid)
    assert (report.state, report.late) == ("submitted", True)
    with transaction(f) as session:
        report_service.review_report(
            session, world.settings, INSTITUTE, rid, "accept", now=utc(2029, 5, 1)
        )
    assert load_report(world, rid).state == "accepted"
    with f() as session:
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject_type == "report", AuditEvent.subject_id == rid)
            .order_by(AuditEvent.id)
        ).all()
        assert actions == ["submit", "return_for_revision", "submit", "accept"]
        recipients = session.scalars(
            select(OutboxMessage.recipient).where(
                OutboxMessage.subject_type == "report", OutboxMessage.occasion == "report_returned"
            )
        ).all()
        assert recipients == [JELGAVA]
    with pytest.raises(TransitionNotAllowed), transaction(f) as session:
        report_service.submit_report(
            session, world.settings, city, rid, now=utc(2029, 5, 2), summary="again"
        )


def test_late_report_one_second_after_the_deadline(world: World) -> None:
    membership_id = admit(world, "Jelgava", 2027, utc(2027, 9, 1))
    ensure(world, membership_id, date(2029, 1, 1))
    rid = report_id(world, membership_id, date(2029, 3, 31))
    with transaction(world.factory) as session:
        report_service.submit_report(
            session,
            world.settings,
            world.city("Jelgava"),
            rid,
            now=utc(2029, 3, 31, 21),  # 1 April 00:00:00 in Riga
            summary="Late by a second.",
        )
    report = load_report(world, rid)
    assert report.late is True
    with world.factory() as session:
        comment = session.scalars(
            select(AuditEvent.comment).where(
                AuditEvent.subject_type == "report", AuditEvent.action == "submit"
            )
        ).one()
        assert comment == "late"


def test_membership_restored_after_a_late_report(world: World) -> None:
    f = world.factory
    membership_id = admit(world, "Jelgava", 2027, utc(2027, 9, 1))
    ensure(world, membership_id, date(2029, 1, 1))
    rid = report_id(world, membership_id, date(2029, 3, 31))
    # the scheduler marks the report and the membership overdue (its sweep does this)
    with transaction(f) as session:
        report = session.get(Report, rid)
        membership = session.get(Membership, membership_id)
        assert report is not None and membership is not None
        fire(session, REPORT, report, "mark_overdue", SYSTEM, now=utc(2029, 4, 1))
        fire(session, MEMBERSHIP, membership, "mark_overdue", SYSTEM, now=utc(2029, 4, 1))
    assert load_membership(world, membership_id).state == "overdue"
    late = utc(2029, 6, 1)
    with transaction(f) as session:
        report_service.submit_report(
            session, world.settings, world.city("Jelgava"), rid, now=late, summary="Sorry."
        )
    membership = load_membership(world, membership_id)
    assert (membership.state, membership.state_since) == ("active", late)
    report = load_report(world, rid)
    assert (report.state, report.late) == ("submitted", True)
    with f() as session:
        history = memberships.membership_history(session, INSTITUTE, membership_id)
        assert [(e.action, e.role, e.from_state, e.to_state) for e in history] == [
            ("admit", "institute", None, "active"),
            ("mark_overdue", "system", "active", "overdue"),
            ("restore", "system", "overdue", "active"),
        ]


def test_membership_removed_and_reinstated(world: World) -> None:
    f = world.factory
    membership_id = admit(world, "Jelgava", 2027, utc(2027, 9, 1))
    with pytest.raises(NotAllowed), transaction(f) as session:
        memberships.change_membership(
            session, world.settings, LV, membership_id, "remove", now=utc(2030, 1, 1), comment="x"
        )
    with transaction(f) as session:
        memberships.change_membership(
            session,
            world.settings,
            INSTITUTE,
            membership_id,
            "remove",
            now=utc(2030, 1, 1),
            comment="No reports",
        )
    assert load_membership(world, membership_id).state == "removed"
    # a removed member's reports are closed
    with transaction(f) as session:
        membership = session.get(Membership, membership_id)
        assert membership is not None
        memberships.ensure_reports(
            session, world.settings, membership, today=date(2029, 1, 1), now=utc(2029, 1, 1)
        )
    rid = report_id(world, membership_id, date(2029, 3, 31))
    with pytest.raises(InvalidInput, match="removed"), transaction(f) as session:
        report_service.submit_report(
            session, world.settings, world.city("Jelgava"), rid, now=utc(2030, 1, 2), summary="s"
        )
    with transaction(f) as session:
        memberships.change_membership(
            session,
            world.settings,
            INSTITUTE,
            membership_id,
            "reinstate",
            now=utc(2030, 2, 1),
            comment="Reports in",
        )
    assert load_membership(world, membership_id).state == "active"
    with f() as session:
        mail = session.scalars(
            select(OutboxMessage).where(OutboxMessage.subject_type == "membership")
        ).all()
        assert {(m.occasion, m.recipient) for m in mail} == {
            ("membership_removed", JELGAVA),
            ("membership_removed", "office@unesco.lv"),
            ("membership_reinstated", JELGAVA),
            ("membership_reinstated", "office@unesco.lv"),
        }


def test_a_member_cannot_apply_again(world: World) -> None:
    admit(world, "Jelgava", 2027, utc(2027, 9, 1))
    with pytest.raises(InvalidInput, match="already a member"):
        world.draft("Jelgava", utc(2028, 3, 2))
