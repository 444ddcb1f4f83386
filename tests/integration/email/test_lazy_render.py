"""Rows stored with their context (the sweep's bulk reminders) are rendered when sent."""

from __future__ import annotations

from datetime import date
from email.header import decode_header, make_header

from sqlalchemy import select

from notifications.dispatcher import dispatch
from notifications.models import OutboxMessage
from notifications.outbox import Owed, content, insert_rows, rows_for
from notifications.recipients import Addressing, Recipient
from notifications.render import render
from notifications.senders import MemorySender
from tests.conftest import World, utc
from workflow.db import transaction

CITY = Recipient("pasts@jelgava.lv", "Jelgava <focal> point", "lv")
CONTEXT = {
    "report_id": 12, "city": "Jelgava", "country": "Latvia",
    "commission": "Latvian National Commission for UNESCO", "due_on": date(2029, 3, 31),
    "timezone": "Europe/Riga", "days_left": 30, "days_overdue": 0, "escalated": False,
    "grace_until": date(2030, 3, 31), "network": "UNESCO Global Network of Learning Cities",
    "url": "http://127.0.0.1:8000/reports/12",
}  # fmt: skip


def test_a_stored_context_is_rendered_at_sending_and_kept(world: World) -> None:
    now = utc(2029, 3, 1, 6)
    owed = Owed("report_reminder", "report", 12, Addressing(to=(CITY,)), CONTEXT, round="d-30")
    with transaction(world.factory) as session:
        assert insert_rows(session, rows_for(owed, now, "gnlc@example.org", render_now=False)) == 1
    with world.factory() as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert (row.body_text, row.language) == ("", "lv")
        expected = render("report_reminder", "lv", {**CONTEXT, "recipient": CITY})
        assert content(row) == expected
    sender = MemorySender()
    result = dispatch(world.factory, world.settings, now=now, worker="t", sender=sender)
    assert result.sent == 1
    ((recipient, message),) = sender.sent
    assert recipient == CITY.address
    assert str(make_header(decode_header(message["Subject"]))) == expected.subject
    with world.factory() as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert (row.status, row.subject, row.body_text) == ("sent", expected.subject, expected.text)


def test_a_context_the_template_cannot_render_is_parked_dead_with_the_reason(world: World) -> None:
    now = utc(2029, 3, 1, 6)
    broken = {k: v for k, v in CONTEXT.items() if k != "due_on"}
    owed = Owed("report_reminder", "report", 13, Addressing(to=(CITY,)), broken, round="d-30")
    with transaction(world.factory) as session:
        insert_rows(session, rows_for(owed, now, "gnlc@example.org", render_now=False))
    result = dispatch(world.factory, world.settings, now=now, worker="t", sender=MemorySender())
    assert result.dead == 1
    with world.factory() as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert row.status == "dead" and "due_on" in row.last_error
