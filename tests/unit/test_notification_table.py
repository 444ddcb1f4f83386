"""The one table of who is told what (notifications/table.py), and the wiring around it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from config import load_settings
from notifications import reminders, table, wiring
from notifications.recipients import Recipient
from notifications.render import FALLBACK, available_languages, occasions
from notifications.table import Parties
from workflow import events
from workflow.actors import SYSTEM
from workflow.machines import WORKFLOWS

SETTINGS = load_settings({})
CITY = Recipient("info@valmiera.lv", "Valmiera focal point", "lv")
COMMISSION = Recipient("office@unesco.lv", "Latvian National Commission for UNESCO", "lv")
#: Events published outside a machine: the portal's invitations and password resets.
NOT_A_MACHINE = {("user", "invite"), ("user", "password_reset")}
#: Every reminder occasion the sweep publishes (workflow/sweep.py).
SWEEP_OCCASIONS = {
    "call_opened",
    "draft_reminder",
    "commission_reminder",
    "report_reminders",
    "jury_review_reminder",
    "jury_review_due_today",
}


def all_mails() -> list[table.Mail]:
    return [m for row in table.EVENTS.values() for m in row] + list(table.REMINDERS.values())


def test_every_occasion_of_the_table_has_its_templates_and_every_template_a_row() -> None:
    assert table.occasions() == set(occasions())
    for occasion in table.occasions():
        assert FALLBACK in available_languages(occasion), occasion


def test_every_event_row_names_a_transition_of_its_machine() -> None:
    for workflow, trigger in set(table.EVENTS) - NOT_A_MACHINE:
        assert trigger in WORKFLOWS[workflow].triggers, (workflow, trigger)


def test_every_rule_is_known_and_every_mail_has_a_recipient() -> None:
    for mail in all_mails():
        assert mail.to, mail.occasion
        assert set(mail.to) | set(mail.cc) <= set(table.RULES), mail.occasion


def test_the_set_based_report_reminders_have_the_rules_as_sql() -> None:
    for name in ("report_reminder", "report_due_today", "report_overdue"):
        mail = table.REMINDERS[name]
        assert set(mail.to) | set(mail.cc) <= set(table.SQL_RULES), name


def test_every_reminder_occasion_of_the_sweep_is_handled() -> None:
    assert set(reminders.FINDERS) | {"report_reminders"} == SWEEP_OCCASIONS
    assert set(reminders.FINDERS) <= set(table.REMINDERS)


@pytest.mark.parametrize(
    ("escalated", "cc"), [(False, ()), (True, (COMMISSION,))], ids=["on time", "escalated"]
)
def test_the_commission_is_copied_on_report_reminders_only_once_escalated(
    escalated: bool, cc: tuple[Recipient, ...]
) -> None:
    parties = Parties(city=CITY, commission=COMMISSION, escalated=escalated)
    addressing = table.REMINDERS["report_overdue"].addressing(parties, SETTINGS)
    assert addressing.to == (CITY,)
    assert addressing.cc == cc


def test_a_submission_tells_the_commission_copy_network_and_acknowledges_the_city() -> None:
    parties = Parties(city=CITY, commission=COMMISSION)
    submitted, acknowledged = table.EVENTS[("application", "submit")]
    sent = submitted.addressing(parties, SETTINGS)
    assert sent.to == (COMMISSION,)
    assert [r.address for r in sent.cc] == [SETTINGS.network.address]
    assert acknowledged.addressing(parties, SETTINGS).to == (CITY,)


def test_a_transition_without_a_row_sends_nothing() -> None:
    event = events.Event(
        workflow="application",
        subject_type="application",
        subject_id=1,
        trigger="start_review",
        source="forwarded",
        dest="under_review",
        actor=SYSTEM,
        comment="",
        at=datetime(2027, 6, 1, tzinfo=UTC),
        round="7",
    )
    assert table.mails_for(event) == ()
    with Session() as session:  # no database: nothing is loaded for an event without mail
        assert wiring.owed_for(session, SETTINGS, event) == []


def test_publishing_without_a_handler_fails_loudly() -> None:
    events.uninstall()
    try:
        with Session() as session, pytest.raises(events.NotWired, match=r"wiring\.install"):
            events.publish(session, SETTINGS)
    finally:
        wiring.install()
