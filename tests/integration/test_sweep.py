"""The sweep on SQLite and PostgreSQL: idempotent, no flood after downtime, local dates,
state changes through the workflow tables with their audit events, and a dry run that
changes nothing."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from notifications.models import OutboxMessage
from notifications.outbox import content, decode_context, encode_context
from notifications.recipients import Recipient
from notifications.render import render
from tests.conftest import ADMIN, INSTITUTE, World, utc
from workflow.db import transaction
from workflow.models import (
    Application,
    AuditEvent,
    Call,
    City,
    Country,
    Membership,
    Report,
)
from workflow.services import calls, memberships, submissions
from workflow.sweep import sweep

LV_C, EE_C, FR_C = "office@unesco.lv", "unesco@unesco.ee", "cnfu@unesco.fr"
JELGAVA, VALMIERA, TARTU, LYON = (
    "pasts@jelgava.lv",
    "info@valmiera.lv",
    "linn@tartu.ee",
    "education@lyon.fr",
)


def outbox(factory: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    """(occasion, recipient, key) of every row, in order."""
    with factory() as session:
        return [
            (r.occasion, r.recipient, r.key)
            for r in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        ]


def counts(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Call, Application, Membership, Report, AuditEvent, OutboxMessage)
        }


def import_member(world: World, city: str, admitted: date, now: datetime) -> int:
    with transaction(world.factory) as session:
        target = session.get(City, world.cities[city])
        assert target is not None
        return memberships.import_member(
            session, world.settings, INSTITUTE, target, admitted_on=admitted, now=now
        ).id


def test_second_sweep_at_the_same_moment_enqueues_nothing(world: World) -> None:
    import_member(world, "Tartu", date(2025, 6, 1), utc(2027, 1, 1))
    world.draft("Jelgava", utc(2027, 3, 2))
    now = utc(2027, 4, 16, 6)  # d-14 of the draft; Tartu's report 16 days overdue
    first = sweep(world.factory, world.settings, now=now)
    assert {(m.occasion, m.to) for m in first.messages} == {
        ("call_opened", (LV_C,)),
        ("call_opened", (EE_C,)),
        ("call_opened", (FR_C,)),
        ("call_opened", (VALMIERA,)),
        ("call_opened", (LYON,)),
        ("draft_reminder", (JELGAVA,)),
        ("report_overdue", (TARTU,)),
    }
    assert first.errors == []
    assert first.changes["reports_overdue"] == first.changes["memberships_overdue"] == 1
    before = counts(world.factory)
    second = sweep(world.factory, world.settings, now=now)
    assert second.messages == [] and second.errors == []
    assert not any(second.changes.values())
    assert counts(world.factory) == before
    # Later the same day: still nothing new.
    third = sweep(world.factory, world.settings, now=utc(2027, 4, 16, 20))
    assert third.messages == []


def test_downtime_opens_the_window_late_and_sends_no_stale_reminders(world: World) -> None:
    import_member(world, "Tartu", date(2025, 6, 1), utc(2027, 1, 1))
    sweep(world.factory, world.settings, now=utc(2027, 2, 19, 6))  # d-60 of Tartu's report
    assert [(o, r) for o, r, _ in outbox(world.factory)] == [("report_reminder", TARTU)]
    # Down from 20 February to 10 March: missed the window's opening and d-30 (1 March).
    report = sweep(world.factory, world.settings, now=utc(2027, 3, 10, 6))
    got = sorted((m.occasion, m.to[0], m.key.split(":")[3]) for m in report.messages)
    assert got == sorted(
        [
            ("call_opened", LV_C, "open"),
            ("call_opened", EE_C, "open"),
            ("call_opened", FR_C, "open"),
            ("call_opened", JELGAVA, "open"),
            ("call_opened", VALMIERA, "open"),
            ("call_opened", LYON, "open"),
            ("report_reminder", TARTU, "d-30"),  # the most recent one only, once
        ]
    )
    # Waking at d-5 after more downtime: d-7 only; d-60 and d-30 never again.
    later = sweep(world.factory, world.settings, now=utc(2027, 3, 26, 6))
    assert [(m.occasion, m.key.split(":")[3]) for m in later.messages] == [
        ("report_reminder", "d-7")
    ]
    rounds = [k.split(":")[3] for o, _, k in outbox(world.factory) if o == "report_reminder"]
    assert rounds == ["d-60", "d-30", "d-7"]


def test_a_window_that_closed_during_downtime_is_never_announced(world: World) -> None:
    report = sweep(world.factory, world.settings, now=utc(2027, 5, 1, 6))
    assert [m for m in report.messages if m.occasion == "call_opened"] == []
    # The window opens in the call's timezone (Europe/Berlin): 23:30 UTC on 28 February
    # is 00:30 on 1 March there.
    early = sweep(world.factory, world.settings, now=utc(2028, 2, 29, 22, 59))
    assert [m for m in early.messages if m.occasion == "call_opened"] == []
    opened = sweep(world.factory, world.settings, now=utc(2028, 2, 29, 23, 0))
    assert len([m for m in opened.messages if m.occasion == "call_opened"]) == 7


def test_stale_reminders_are_never_sent(world: World) -> None:
    """A draft reminder after the window closed, a report d-7 after the due date."""
    world.draft("Jelgava", utc(2027, 3, 2))
    import_member(world, "Tartu", date(2025, 6, 1), utc(2027, 1, 1))
    report = sweep(world.factory, world.settings, now=utc(2027, 4, 1, 6))  # day after due
    occasions = sorted((m.occasion, m.key.split(":")[3]) for m in report.messages)
    assert ("report_overdue", "overdue-1") in occasions
    assert not any(o == "report_reminder" for o, _ in occasions)
    late = sweep(world.factory, world.settings, now=utc(2027, 5, 1, 6))  # window closed
    assert not any(m.occasion == "draft_reminder" for m in late.messages)
    assert late.changes["applications_expired"] == 1


def test_report_overdue_at_local_midnight_across_summer_time(world: World) -> None:
    """Due 31 March 2027: summer time began on 28 March. Riga is UTC+3 and Paris UTC+2."""
    import_member(world, "Jelgava", date(2025, 1, 1), utc(2027, 1, 1))
    import_member(world, "Lyon", date(2025, 1, 1), utc(2027, 1, 1))
    before = sweep(world.factory, world.settings, now=utc(2027, 3, 31, 20, 59, 59))
    assert before.changes.get("reports_overdue", 0) == 0
    riga = sweep(world.factory, world.settings, now=utc(2027, 3, 31, 21, 0))
    assert riga.changes["reports_overdue"] == 1  # Jelgava: 00:00 on 1 April in Riga
    assert riga.changes["memberships_overdue"] == 1
    assert [m.to for m in riga.messages if m.occasion == "report_overdue"] == [(JELGAVA,)]
    paris = sweep(world.factory, world.settings, now=utc(2027, 3, 31, 22, 0))
    assert paris.changes["reports_overdue"] == 1  # Lyon: 00:00 on 1 April in Paris
    assert [m.to for m in paris.messages if m.occasion == "report_overdue"] == [(LYON,)]


def test_state_changes_go_through_the_tables_with_audit_events(world: World) -> None:
    member = import_member(world, "Lyon", date(2025, 1, 1), utc(2027, 1, 1))
    draft = world.draft("Jelgava", utc(2027, 3, 2), signed=False)  # version 1: a fresh draft
    sweep(world.factory, world.settings, now=utc(2027, 5, 1, 6))
    sweep(world.factory, world.settings, now=utc(2028, 4, 1, 6))  # past 365 days of grace
    with world.factory() as session:
        trail = session.execute(
            select(
                AuditEvent.subject_type,
                AuditEvent.action,
                AuditEvent.from_state,
                AuditEvent.to_state,
                AuditEvent.role,
            )
            .where(AuditEvent.role == "system")
            .order_by(AuditEvent.id)
        ).all()
        assert [tuple(t) for t in trail] == [
            ("application", "expire", "draft", "expired", "system"),
            ("report", "mark_overdue", "open", "overdue", "system"),
            ("membership", "mark_overdue", "active", "overdue", "system"),
            ("membership", "mark_inactive", "overdue", "inactive", "system"),
        ]
        app = session.get(Application, draft)
        assert app is not None and app.state == "expired" and app.version == 2
        membership = session.get(Membership, member)
        assert membership is not None and membership.state == "inactive"
        notice = session.scalars(
            select(OutboxMessage).where(OutboxMessage.occasion == "membership_inactive")
        ).all()
        assert {
            (n.recipient, tuple(n.to_addrs), tuple(n.cc_addrs), n.language) for n in notice
        } == {
            (LYON, (LYON,), (FR_C,), "fr"),
            (FR_C, (LYON,), (FR_C,), "fr"),
        }
        assert "1 avril 2028" in content(notice[0]).text


def test_report_obligations_are_created_ahead_once(world: World) -> None:
    """Admitted 2025: reports due 31 March 2027, 2029, ... each created 120 days ahead."""
    member = import_member(world, "Tartu", date(2025, 6, 1), utc(2027, 1, 1))
    report = sweep(world.factory, world.settings, now=utc(2028, 11, 30, 12))
    assert report.changes.get("reports_created", 0) == 0
    report = sweep(world.factory, world.settings, now=utc(2028, 12, 1, 12))
    assert report.changes["reports_created"] == 1
    again = sweep(world.factory, world.settings, now=utc(2028, 12, 2, 12))
    assert again.changes.get("reports_created", 0) == 0
    with world.factory() as session:
        dues = session.scalars(
            select(Report.due_on).where(Report.membership_id == member).order_by(Report.due_on)
        ).all()
    assert dues == [date(2027, 3, 31), date(2029, 3, 31)]


def test_commission_reminder_lists_pending_applications_per_commission(world: World) -> None:
    ids = []
    for city in ("Jelgava", "Valmiera", "Lyon"):
        app_id = world.draft(city, utc(2027, 3, 2))
        with transaction(world.factory) as session:
            submissions.submit(
                session, world.settings, world.city(city), app_id, now=utc(2027, 3, 3)
            )
        ids.append(app_id)
    report = sweep(world.factory, world.settings, now=utc(2027, 5, 25, 6))  # d-7 was 23 May
    reminders = [m for m in report.messages if m.occasion == "commission_reminder"]
    assert sorted((m.to, m.language) for m in reminders) == [((FR_C,), "fr"), ((LV_C,), "lv")]
    with world.factory() as session:
        lv = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.occasion == "commission_reminder", OutboxMessage.recipient == LV_C
            )
        ).one()
    text = content(lv).text
    assert "Jelgava" in text and "Valmiera" in text and "Lyon" not in text
    assert "30. maijs" in text  # the deadline, in Latvian
    assert lv.body_text == ""  # stored as its context; the dispatcher renders it


def test_dry_run_reports_the_same_and_changes_nothing(world: World) -> None:
    import_member(world, "Lyon", date(2025, 1, 1), utc(2027, 1, 1))
    world.draft("Jelgava", utc(2027, 3, 2))
    now = utc(2028, 4, 1, 6)
    before = counts(world.factory)
    dry = sweep(world.factory, world.settings, now=now, dry_run=True)
    assert counts(world.factory) == before
    assert dry.dry_run and dry.errors == []
    assert dry.changes["applications_expired"] == 1
    assert dry.changes["memberships_inactive"] == 1
    real = sweep(world.factory, world.settings, now=now)
    assert real.changes == dry.changes
    assert sorted((m.occasion, m.to, m.cc, m.language, m.key) for m in real.messages) == sorted(
        (m.occasion, m.to, m.cc, m.language, m.key) for m in dry.messages
    )


def test_a_broken_row_is_logged_and_skipped_and_the_rest_goes_on(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Estonia's timezone is corrupted behind the services' back: Tartu's reminder is
    skipped and reported; Lyon's still goes out, and so does everything else."""
    import_member(world, "Tartu", date(2025, 6, 1), utc(2027, 1, 1))
    import_member(world, "Lyon", date(2025, 6, 1), utc(2027, 1, 1))
    with transaction(world.factory) as session:
        session.execute(
            update(Country).where(Country.code == "EE").values(timezone="Mars/Olympus_Mons")
        )
    report = sweep(world.factory, world.settings, now=utc(2027, 3, 1, 6))
    assert report.errors == ["unknown timezone 'Mars/Olympus_Mons': its subjects were skipped"]
    assert "Mars/Olympus_Mons" in caplog.text
    sent = {(m.occasion, m.to) for m in report.messages}
    assert ("report_reminder", (LYON,)) in sent
    assert ("report_reminder", (TARTU,)) not in sent
    assert ("call_opened", (JELGAVA,)) in sent


SCHEDULER_CONTEXTS: dict[str, dict[str, object]] = {
    "call_opened": {"audience": "city"},
    "draft_reminder": {"application_id": 7, "returned": False, "deadline": date(2027, 4, 30)},
    "report_reminder": {"report_id": 12},
    "report_due_today": {"report_id": 12},
    "report_overdue": {"report_id": 12, "escalated": True},
    "membership_inactive": {"grace_days": 365, "inactive_since": date(2031, 4, 1)},
}


@pytest.mark.parametrize("occasion", sorted(SCHEDULER_CONTEXTS))
@pytest.mark.parametrize("language", ["en", "fr", "lv", "ru"])
@pytest.mark.parametrize(
    "city",
    ["Jelgava", 'Saint-Étienne & <Lès> "O\'Brien"', "Bad\r\nBcc: x@evil", "http://evil", ""],
)
def test_a_stored_context_renders_exactly_as_the_templates_would(
    occasion: str, language: str, city: str
) -> None:
    """The sweep stores contexts, the dispatcher renders them later: through JSON and back,
    the message is byte for byte what render() writes now, hostile city names included."""
    context: dict[str, object] = {
        "call": "2027",
        "opens_on": date(2027, 3, 1),
        "closes_on": date(2027, 4, 30),
        "commission_deadline": date(2027, 5, 30),
        "timezone": "Europe/Riga",
        "quota": 3,
        "network": "UNESCO Global Network of Learning Cities",
        "country": "Latvia",
        "commission": "Latvian National Commission for UNESCO",
        "due_on": date(2029, 3, 31),
        "days_left": 7,
        "days_overdue": 61,
        "escalated": False,
        "grace_until": date(2030, 3, 31),
        "city": city,
        "name": city,
        "url": "http://127.0.0.1:8000/reports/3",
        "recipient": Recipient("c3@example.org", city or "x", language),
        **SCHEDULER_CONTEXTS[occasion],
    }
    stored = json.loads(json.dumps(encode_context(context)))
    assert render(occasion, language, decode_context(stored)) == render(occasion, language, context)
    rendered = render(occasion, language, decode_context(stored))
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    if "<" in city:
        assert "<Lès>" not in rendered.html


def test_an_extended_window_moves_the_draft_reminders_and_the_expiry(world: World) -> None:
    draft = world.draft("Jelgava", utc(2027, 3, 2))

    def rounds(day: datetime) -> list[str]:
        report = sweep(world.factory, world.settings, now=day)
        return [m.key.split(":")[3] for m in report.messages if m.occasion == "draft_reminder"]

    assert rounds(utc(2027, 4, 27, 6)) == ["draft-d-3@2027-04-30"]
    with transaction(world.factory) as session:
        calls.extend_call(session, ADMIN, "2027", now=utc(2027, 4, 28), closes_on=date(2027, 5, 15))
    assert rounds(utc(2027, 5, 1, 6)) == ["draft-d-14@2027-05-15"]  # not expired
    assert rounds(utc(2027, 5, 12, 6)) == ["draft-d-3@2027-05-15"]
    assert rounds(utc(2027, 5, 16, 6)) == []
    with world.factory() as session:
        app = session.get(Application, draft)
        assert app is not None and app.state == "expired"
