"""Five years of the scheduler, day by day: the exact mail it sends, and when.

The world of ``tests/conftest.py`` (Latvia, Estonia, France; Jelgava, Valmiera, Tartu,
Lyon) lives from 1 January 2027 to 31 December 2031 with the default settings. The sweep
runs every day at 06:00 UTC; people act at 10:00 UTC on the days listed in ``ACTIONS``.
``EXPECTED`` was derived by hand from docs/domain.md and ``config/defaults.toml`` (calls open
1 March, close 30 April, Commission deadline 30 days later; draft reminders 14 and 3 days
before the close; Commission reminders 7 and 1 days before its deadline; reports due
31 March two years after admission and every two years; reminders 60, 30, 7, 1 days
before, on the day, then every 30 days while overdue, the Commission copied from 60 days
overdue; inactive past 365 days of grace), not by calling the code under test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from notifications.dispatcher import dispatch
from notifications.models import OutboxMessage
from notifications.senders import MemorySender
from tests.conftest import INSTITUTE, World, utc
from workflow.db import transaction
from workflow.models import Application, City, Membership, Report
from workflow.services import announcements, decisions, memberships, submissions
from workflow.services import reports as report_service
from workflow.states import MembershipState
from workflow.sweep import sweep

SCHEDULER_OCCASIONS = {
    "call_opened",
    "draft_reminder",
    "commission_reminder",
    "report_reminder",
    "report_due_today",
    "report_overdue",
    "membership_inactive",
}
# Addresses and their languages (tests/conftest.py).
LV_C, EE_C, FR_C = "office@unesco.lv", "unesco@unesco.ee", "cnfu@unesco.fr"
JELGAVA, VALMIERA, TARTU, LYON = (
    "pasts@jelgava.lv",
    "info@valmiera.lv",
    "linn@tartu.ee",
    "education@lyon.fr",
)
LANGUAGE = {
    LV_C: "lv",
    EE_C: "en",
    FR_C: "fr",
    JELGAVA: "lv",
    VALMIERA: "en",
    TARTU: "en",
    LYON: "fr",
}
COMMISSION = {TARTU: EE_C, LYON: FR_C, VALMIERA: LV_C, JELGAVA: LV_C}

D = date


def opened(day: date, *cities: str) -> list[tuple[date, str, str, str | None]]:
    return [(day, "call_opened", to, None) for to in (LV_C, EE_C, FR_C, *cities)]


def reminders(city: str, *days: date) -> list[tuple[date, str, str, str | None]]:
    return [(d, "report_reminder", city, None) for d in days]


def overdue(city: str, due: date, *days: date) -> list[tuple[date, str, str, str | None]]:
    """Overdue notices; the Commission is copied from 60 days overdue on."""
    return [
        (d, "report_overdue", city, COMMISSION[city] if (d - due).days >= 60 else None)
        for d in days
    ]


# (local date sent, occasion, To, Cc)
EXPECTED: list[tuple[date, str, str, str | None]] = [
    # 2027: Tartu (imported, admitted 2025) owes its first report on 31 March 2027.
    *reminders(TARTU, D(2027, 1, 30), D(2027, 3, 1)),  # d-60, d-30; submitted 10 March
    *opened(D(2027, 3, 1), JELGAVA, VALMIERA),  # neither member nor applying yet
    (D(2027, 4, 16), "draft_reminder", JELGAVA, None),  # d-14 before 30 April
    (D(2027, 4, 27), "draft_reminder", JELGAVA, None),  # d-3; expires 1 May
    (D(2027, 5, 23), "commission_reminder", LV_C, None),  # Valmiera undecided, d-7 of 30 May
    (D(2027, 5, 29), "commission_reminder", LV_C, None),  # d-1; endorsed on 30 May
    # 2028: Lyon (imported, admitted 2026) reports late; Jelgava's application is returned.
    *reminders(LYON, D(2028, 1, 31), D(2028, 3, 1), D(2028, 3, 24), D(2028, 3, 30)),
    (D(2028, 3, 31), "report_due_today", LYON, None),
    *opened(D(2028, 3, 1), JELGAVA),  # Valmiera is a member since September 2027
    *overdue(LYON, D(2028, 3, 31), D(2028, 4, 1), D(2028, 5, 1), D(2028, 5, 31), D(2028, 6, 30)),
    (D(2028, 5, 16), "draft_reminder", JELGAVA, None),  # returned: d-14 of the deadline
    (D(2028, 5, 27), "draft_reminder", JELGAVA, None),  # d-3; expires 31 May
    # 2029: Tartu submits on the due day, Valmiera a week early.
    *reminders(TARTU, D(2029, 1, 30), D(2029, 3, 1), D(2029, 3, 24), D(2029, 3, 30)),
    (D(2029, 3, 31), "report_due_today", TARTU, None),
    *reminders(VALMIERA, D(2029, 1, 30), D(2029, 3, 1), D(2029, 3, 24)),
    *opened(D(2029, 3, 1), JELGAVA),
    # 2030: Lyon never submits: monthly notices, copied to its Commission from 31 May.
    *reminders(LYON, D(2030, 1, 30), D(2030, 3, 1), D(2030, 3, 24), D(2030, 3, 30)),
    (D(2030, 3, 31), "report_due_today", LYON, None),
    *opened(D(2030, 3, 1), JELGAVA),
    *overdue(
        LYON,
        D(2030, 3, 31),
        *(
            D(2030, 4, 1),
            D(2030, 5, 1),
            D(2030, 5, 31),
            D(2030, 6, 30),
            D(2030, 7, 30),
            D(2030, 8, 29),
            D(2030, 9, 28),
            D(2030, 10, 28),
            D(2030, 11, 27),
            D(2030, 12, 27),
            D(2031, 1, 26),
            D(2031, 2, 25),
            D(2031, 3, 27),
        ),
    ),
    (D(2031, 4, 1), "membership_inactive", LYON, FR_C),  # 365 days of grace ended 31 March
    # 2031: Tartu early; Valmiera never.
    *reminders(TARTU, D(2031, 1, 30)),  # submitted 15 February
    *reminders(VALMIERA, D(2031, 1, 30), D(2031, 3, 1), D(2031, 3, 24), D(2031, 3, 30)),
    (D(2031, 3, 31), "report_due_today", VALMIERA, None),
    *opened(D(2031, 3, 1), JELGAVA),
    *overdue(
        VALMIERA,
        D(2031, 3, 31),
        *(
            D(2031, 4, 1),
            D(2031, 5, 1),
            D(2031, 5, 31),
            D(2031, 6, 30),
            D(2031, 7, 30),
            D(2031, 8, 29),
            D(2031, 9, 28),
            D(2031, 10, 28),
            D(2031, 11, 27),
            D(2031, 12, 27),
        ),
    ),
]

Row = tuple[date, str, str, tuple[str, ...], tuple[str, ...], str]


def expected_rows(until: date) -> set[Row]:
    """One outbox row per recipient (To and Cc), each in the recipient's language."""
    rows: set[Row] = set()
    for day, occasion, to, cc in EXPECTED:
        if day > until:
            continue
        ccs = (cc,) if cc else ()
        for recipient in (to, *ccs):
            rows.add((day, occasion, recipient, (to,), ccs, LANGUAGE[recipient]))
    return rows


def _report_id(world: World, city: str, due: date) -> int:
    with transaction(world.factory) as session:
        found = session.scalar(
            select(Report.id)
            .join(Membership, Report.membership_id == Membership.id)
            .where(Membership.city_id == world.cities[city], Report.due_on == due)
        )
        assert found is not None, f"no report of {city} due {due}"
        return found


def _application(world: World, city: str, state: str) -> int:
    with transaction(world.factory) as session:
        found = session.scalar(
            select(Application.id).where(
                Application.city_id == world.cities[city], Application.state == state
            )
        )
        assert found is not None
        return found


def _submit_report(world: World, city: str, due: date, now: datetime) -> None:
    report_id = _report_id(world, city, due)
    with transaction(world.factory) as session:
        report_service.submit_report(
            session, world.settings, world.city(city), report_id, now=now, summary="Progress."
        )


def _import(world: World, city: str, admitted: date, now: datetime) -> None:
    with transaction(world.factory) as session:
        target = session.get(City, world.cities[city])
        assert target is not None
        memberships.import_member(
            session, world.settings, INSTITUTE, target, admitted_on=admitted, now=now
        )


def _submit(world: World, city: str, now: datetime) -> None:
    app_id = _application(world, city, "draft")
    with transaction(world.factory) as session:
        submissions.submit(session, world.settings, world.city(city), app_id, now=now)


def _decide(world: World, city: str, state: str, trigger: str, now: datetime) -> None:
    app_id = _application(world, city, state)
    with transaction(world.factory) as session:
        if trigger == "endorse":
            submissions.endorse(session, world.settings, World.commission("LV"), app_id, now=now)
        elif trigger == "return_to_city":
            decisions.decide(
                session,
                world.settings,
                World.commission("LV"),
                app_id,
                trigger,
                now=now,
                comment="Please add the budget.",
            )
        else:
            decisions.decide(session, world.settings, INSTITUTE, app_id, trigger, now=now)
        if trigger == "admit":  # announced the same day
            announcements.announce(
                session, world.settings, INSTITUTE, [app_id], on=now.date(), title="New",
                now=now,
            )  # fmt: skip


Action = Callable[[World, datetime], None]
ACTIONS: dict[date, list[Action]] = {
    D(2027, 3, 2): [lambda w, t: (w.draft("Valmiera", t), None)[1]],
    D(2027, 3, 5): [lambda w, t: (w.draft("Jelgava", t), None)[1]],
    D(2027, 3, 10): [lambda w, t: _submit_report(w, "Tartu", D(2027, 3, 31), t)],
    D(2027, 3, 20): [lambda w, t: _submit(w, "Valmiera", t)],
    D(2027, 5, 30): [lambda w, t: _decide(w, "Valmiera", "submitted", "endorse", t)],
    D(2027, 9, 1): [
        lambda w, t: _decide(w, "Valmiera", "forwarded", "start_review", t),
        lambda w, t: _decide(w, "Valmiera", "under_review", "admit", t),
    ],
    D(2028, 3, 3): [lambda w, t: (w.draft("Jelgava", t), None)[1]],
    D(2028, 3, 10): [lambda w, t: _submit(w, "Jelgava", t)],
    D(2028, 4, 20): [lambda w, t: _decide(w, "Jelgava", "submitted", "return_to_city", t)],
    D(2028, 7, 10): [lambda w, t: _submit_report(w, "Lyon", D(2028, 3, 31), t)],
    D(2029, 3, 28): [lambda w, t: _submit_report(w, "Valmiera", D(2029, 3, 31), t)],
    D(2029, 3, 31): [lambda w, t: _submit_report(w, "Tartu", D(2029, 3, 31), t)],
    D(2031, 2, 15): [lambda w, t: _submit_report(w, "Tartu", D(2031, 3, 31), t)],
}


def live(world: World, start: date, until: date, sender: MemorySender) -> dict[str, date]:
    """Sweep every day at 06:00 UTC and dispatch at 06:05; people act at 10:00 UTC.
    Returns the day each Message-ID was handed to the sender."""
    day = start
    sent_on: dict[str, date] = {}
    while day <= until:
        report = sweep(world.factory, world.settings, now=utc(day.year, day.month, day.day, 6))
        assert report.errors == [], (day, report.errors)
        before = len(sender.sent)
        dispatch(
            world.factory,
            world.settings,
            now=utc(day.year, day.month, day.day, 6, 5),
            worker="timeline",
            sender=sender,
        )
        for _, message in sender.sent[before:]:
            sent_on.setdefault(str(message["Message-ID"]), day)
        for action in ACTIONS.get(day, []):
            action(world, utc(day.year, day.month, day.day, 10))
        day += timedelta(days=1)
    return sent_on


def sent_rows(world: World) -> set[Row]:
    with transaction(world.factory) as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.occasion.in_(SCHEDULER_OCCASIONS))
        ).all()
        found = {
            (
                r.created_at.date(),  # 06:00 UTC is the same date in every zone here
                r.occasion,
                r.recipient,
                tuple(r.to_addrs),
                tuple(r.cc_addrs),
                r.language,
            )
            for r in rows
        }
        assert len(found) == len(rows), "two rows for one (date, occasion, recipient)"
        return found


def _setup(world: World) -> None:
    start = utc(2027, 1, 1)
    _import(world, "Tartu", D(2025, 6, 1), start)
    _import(world, "Lyon", D(2026, 9, 15), start)


@pytest.mark.slow
def test_five_years_of_mail_day_by_day(world: World, db_url: str) -> None:
    # PostgreSQL lives the first eighteen months (every kind of message happens in it);
    # SQLite all five years.
    until = D(2031, 12, 31) if db_url.startswith("sqlite") else D(2028, 6, 30)
    _setup(world)
    sender = MemorySender()
    sent_on = live(world, D(2027, 1, 1), until, sender)
    got = sent_rows(world)
    want = expected_rows(until)
    assert len(want) > (100 if until.year == 2031 else 25)
    assert sorted(got - want) == [] and sorted(want - got) == []
    # Every outbox row (the services' mail too) was handed to the sender exactly once;
    # the scheduler's on the day it enqueued them.
    deliveries = Counter((str(m["Message-ID"]), to) for to, m in sender.sent)
    with transaction(world.factory) as session:
        rows = session.scalars(select(OutboxMessage)).all()
        assert deliveries == Counter((r.message_id, r.recipient) for r in rows)
        assert {r.status for r in rows} == {"sent"}
        late = [
            (r.occasion, r.recipient, r.created_at.date(), sent_on[r.message_id])
            for r in rows
            if r.occasion in SCHEDULER_OCCASIONS and sent_on[r.message_id] != r.created_at.date()
        ]
        assert late == []
    if until.year == 2031:
        with transaction(world.factory) as session:
            found = session.execute(
                select(City.name, Membership.state).join(Membership, Membership.city_id == City.id)
            )
            states = {name: state for name, state in found}
        assert states == {
            "Tartu": MembershipState.ACTIVE,
            "Lyon": MembershipState.INACTIVE,
            "Valmiera": MembershipState.OVERDUE,
        }
