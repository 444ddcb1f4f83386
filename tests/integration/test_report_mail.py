"""The set-based report reminders write exactly the rows the per-message path would.

Both read the occasion's row of notifications/table.py (recipients, context, key).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from email.header import decode_header, make_header

import pytest
from sqlalchemy import select

from notifications import reminders as mail_reminders
from notifications import table
from notifications.dispatcher import dispatch
from notifications.models import OutboxMessage
from notifications.outbox import content, context_of, decode_context, rows_for
from notifications.render import render
from notifications.senders import MemorySender
from tests.conftest import INSTITUTE, World, utc
from workflow import reminders
from workflow.db import transaction
from workflow.models import City
from workflow.services import memberships
from workflow.sweep import sweep

COMPARED = (
    "occasion", "subject_type", "subject_id", "recipient", "to_addrs", "cc_addrs", "language",
    "subject", "body_text", "body_html", "status", "attempts", "next_attempt_at",
    "last_error", "created_at",
)  # fmt: skip


@pytest.mark.parametrize(
    ("when", "occasion", "escalated"),
    [
        (utc(2027, 3, 1, 8), "report_reminder", False),  # d-30
        (utc(2027, 3, 31, 8), "report_due_today", False),
        (utc(2027, 5, 31, 8), "report_overdue", True),  # 61 days late: the Commission copied
    ],
)
def test_set_based_rows_equal_the_per_message_rows(
    world: World, when: datetime, occasion: str, escalated: bool
) -> None:
    compare_paths(world, when, occasion, copies=2 if escalated else 1)


def test_both_paths_follow_the_table_row(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Change the occasion's row (copy the Commission from the first reminder on): the
    set-based and the per-message path both follow it, as they read the same row."""
    row = table.REMINDERS["report_reminder"]
    monkeypatch.setitem(table.REMINDERS, "report_reminder", replace(row, cc=("commission",)))
    compare_paths(world, utc(2027, 3, 1, 8), "report_reminder", copies=2)


def compare_paths(world: World, when: datetime, occasion: str, *, copies: int) -> None:
    for name in ("Jelgava", "Tartu", "Lyon"):  # languages lv, en, fr; three timezones
        with transaction(world.factory) as session:
            city = session.get(City, world.cities[name])
            assert city is not None
            memberships.import_member(
                session, world.settings, INSTITUTE, city, admitted_on=date(2025, 6, 1),
                now=utc(2027, 1, 1),
            )  # fmt: skip
    sweep(world.factory, world.settings, now=utc(2027, 1, 2))  # the obligations exist now
    with world.factory() as session:
        owed = list(
            mail_reminders.iter_report_reminders(
                session, world.settings, reminders.LocalDays(when, [])
            )
        )
    assert {o.occasion for o in owed} == {occasion}
    expected = {
        row["key"]: row
        for o in owed
        for row in rows_for(o, when, world.settings.mail.from_address, render_now=False)
    }
    assert len(expected) == 3 * copies
    report = sweep(world.factory, world.settings, now=when)
    assert {m.key for m in report.messages if m.occasion == occasion} == set(expected)
    with world.factory() as session:
        stored = session.scalars(
            select(OutboxMessage).where(OutboxMessage.occasion == occasion)
        ).all()
        assert {r.key for r in stored} == set(expected)
        for row in stored:
            want = expected[row.key]
            assert {c: getattr(row, c) for c in COMPARED} == {c: want[c] for c in COMPARED}
            # The whole context, of which the round's common part is stored once.
            assert context_of(row) == want["context"]
            assert row.shared_id is not None and row.shared_context
            assert "due_on" in row.shared_context and "due_on" not in row.context
            assert re.fullmatch(
                rf"<\d{{14}}\.{row.subject_id}\.[0-9a-f]{{16}}@unesco\.org>", row.message_id
            )
            # And it renders to what the templates write for that context.
            assert content(row) == render(occasion, row.language, decode_context(want["context"]))
        assert len({r.message_id for r in stored}) == len(stored)
        rendered = {
            r.key: render(occasion, r.language, decode_context(expected[r.key]["context"]))
            for r in stored
        }
    # The dispatcher puts the round's common part back in when it sends (a batch's
    # rows share it): each recipient gets the text of the whole context.
    sender = MemorySender()
    sent = dispatch(world.factory, world.settings, now=when, worker="t", sender=sender)
    assert sent.sent >= len(stored)
    subjects = {str(make_header(decode_header(m["Subject"]))) for _, m in sender.sent}
    assert {t.subject for t in rendered.values()} <= subjects
    with world.factory() as session:
        for row in session.scalars(select(OutboxMessage).where(OutboxMessage.key.in_(rendered))):
            want_text = rendered[row.key]
            assert (row.status, row.subject, row.body_text) == (
                "sent", want_text.subject, want_text.text,
            )  # fmt: skip
