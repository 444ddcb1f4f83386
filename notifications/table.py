"""Who is told what: ONE table from each event and each reminder occasion to its mail.

Each row names the template (the occasion, ``notifications/templates/<occasion>/``), its
recipients To and Cc as named rules (:data:`RULES`), its context (a builder of
:mod:`notifications.contexts`) and, when it is not the event's audit id, its round (a
part of the outbox key: each (subject, occasion, round, recipient) is sent once).

- :data:`EVENTS`: the transitions the domain publishes (``workflow.events.Event``),
  keyed by (workflow, trigger). A transition with no row sends nothing.
- :data:`REMINDERS`: the reminder occasions of the sweep. Who is owed one is found by
  the queries of :mod:`notifications.reminders`; the report reminders are inserted
  set-based by :mod:`notifications.report_sql`, which reads its recipients (the rules'
  SQL columns, :data:`SQL_RULES`) and its context from the same row as the Python path.

Adding an occasion:

1. a mail for a transition (say, "review started"): one row in :data:`EVENTS`, keyed by
   the machine's (workflow, trigger), and its templates: a folder
   ``notifications/templates/<occasion>/`` with one ``<language>.txt`` per language, at
   least ``en.txt`` (see docs/operations.md, "The outbox");
2. another reminder round of an existing kind (a d-3 draft reminder): settings only
   (``[applications] draft_reminder_days_before_close``);
3. a reminder with a new template for subjects a finder already reads: one row in
   :data:`REMINDERS` and its templates; a new kind of subject also needs its finder
   (the query of who is owed it) in :mod:`notifications.reminders`.

``tests/unit/test_notification_table.py`` checks that every row has its templates and
known rules, and that every trigger named here exists in its machine. The same rules in
words: docs/domain.md, "Email: who is told what".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func

from config import Settings
from notifications import contexts
from notifications.recipients import Addressing, Recipient
from workflow.events import Event
from workflow.models import City, Country
from workflow.snapshots import CityView, CountryView


@dataclass(frozen=True)
class Parties:
    """Who a subject involves: the rules pick from these. ``escalated``: overdue long
    enough that the Commission is copied on report reminders."""

    city: Recipient | None = None
    commission: Recipient | None = None
    user: Recipient | None = None
    escalated: bool = False


def city_recipient(c: CityView) -> Recipient:
    return Recipient(c.contact_email, c.contact_name or c.name, c.language)


def commission_recipient(country: CountryView) -> Recipient:
    return Recipient(country.commission_email, country.commission_name, country.language)


def network(settings: Settings) -> Recipient:
    return Recipient(settings.network.address, settings.network.name, settings.network.language)


def institute(settings: Settings) -> Recipient:
    return Recipient(
        settings.network.institute_address,
        "UNESCO Institute for Lifelong Learning",
        settings.network.language,
    )


Rule = Callable[[Parties, Settings], Recipient | None]

#: The named recipient rules: who each name means for one subject.
RULES: dict[str, Rule] = {
    "city": lambda p, s: p.city,
    "commission": lambda p, s: p.commission,
    "commission_on_escalation": lambda p, s: p.commission if p.escalated else None,
    "network": lambda p, s: network(s),
    "institute": lambda p, s: institute(s),
    "user": lambda p, s: p.user,
}

#: The same rules as SQL columns (address, name, language) over reports joined to their
#: member's City and Country: the set-based report reminders read these.
SQL_RULES: dict[str, tuple[Any, Any, Any]] = {
    "city": (
        City.contact_email,
        func.coalesce(func.nullif(City.contact_name, ""), City.name),
        City.language,
    ),
    "commission": (Country.commission_email, Country.commission_name, Country.language),
    "commission_on_escalation": (
        Country.commission_email,
        Country.commission_name,
        Country.language,
    ),
}
#: Rules that apply only once a report reminder is escalated.
ON_ESCALATION = frozenset({"commission_on_escalation"})


def event_round(event: Event) -> str:
    return event.round


def first_due_round(event: Event) -> str:
    return f"due-{event.facts['first_due'].isoformat()}"


@dataclass(frozen=True)
class Mail:
    """One message of an occasion: its template, To and Cc rules, context and round."""

    occasion: str
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    context: Callable[..., dict[str, Any]] = contexts.application
    round: Callable[[Event], str] = event_round

    def addressing(self, parties: Parties, settings: Settings) -> Addressing:
        def pick(names: tuple[str, ...]) -> tuple[Recipient, ...]:
            found = (RULES[n](parties, settings) for n in names)
            return tuple(r for r in found if r is not None)

        return Addressing(to=pick(self.to), cc=pick(self.cc))


def _to_city(occasion: str, context: Callable[..., dict[str, Any]]) -> Mail:
    return Mail(occasion, to=("city",), cc=("commission",), context=context)


EVENTS: dict[tuple[str, str], tuple[Mail, ...]] = {
    ("application", "submit"): (
        Mail("application_submitted", to=("commission",), cc=("network",)),
        Mail("application_acknowledged", to=("city",)),
    ),
    ("application", "submit_direct"): (
        Mail("application_submitted_direct", to=("institute",), cc=("commission",)),
        Mail("application_acknowledged", to=("city",)),
    ),
    ("application", "endorse"): (Mail("application_forwarded", to=("institute",), cc=("city",)),),
    ("application", "return_to_city"): (_to_city("application_returned", contexts.application),),
    ("application", "decline"): (_to_city("application_declined", contexts.application),),
    # The Institute's decisions are told when their announcement is published.
    ("application", "announce_admission"): (
        _to_city("application_admitted", contexts.application),
    ),
    ("application", "announce_non_admission"): (
        _to_city("application_not_admitted", contexts.application),
    ),
    ("application", "correct_admission"): (
        _to_city("decision_corrected", contexts.decision_corrected),
    ),
    ("application", "correct_non_admission"): (
        _to_city("decision_corrected", contexts.decision_corrected),
    ),
    ("application", "reopen"): (_to_city("application_reopened", contexts.application),),
    ("application", "withdraw"): (_to_city("application_withdrawn", contexts.application),),
    ("report", "submit"): (
        Mail("report_submitted", to=("institute",), cc=("city",), context=contexts.report),
    ),
    ("report", "accept"): (Mail("report_accepted", to=("city",), context=contexts.report),),
    ("report", "return_for_revision"): (
        Mail("report_returned", to=("city",), context=contexts.report),
    ),
    ("membership", "remove"): (_to_city("membership_removed", contexts.membership),),
    ("membership", "reinstate"): (_to_city("membership_reinstated", contexts.membership),),
    ("membership", "withdraw"): (_to_city("membership_withdrawn", contexts.membership),),
    # The sweep: facts first_due (the oldest overdue report) and inactive_since.
    ("membership", "mark_inactive"): (
        Mail(
            "membership_inactive",
            to=("city",),
            cc=("commission",),
            context=contexts.membership_inactive,
            round=first_due_round,
        ),
    ),
    # The portal's accounts (web/accounts.py): facts url and expires_at.
    ("user", "invite"): (Mail("user_invitation", to=("user",), context=contexts.invitation),),
    # "Forgot your password?" (web/accounts.py request_reset): the same facts.
    ("user", "password_reset"): (
        Mail("password_reset", to=("user",), context=contexts.invitation),
    ),
}

#: The sweep's reminder occasions, by occasion. Rounds: ``open`` (call_opened);
#: ``<state>-d-N@<date>`` (draft_reminder); ``<country>-d-N@<deadline>``
#: (commission_reminder); ``d-N``, ``due``, ``overdue-K`` (report reminders, see
#: ``workflow.reminders.report_rounds``); ``d-N@<deadline>``, ``due@<deadline>`` (jury).
REMINDERS: dict[str, Mail] = {
    # To each Commission, and to each city neither member nor applying in the call.
    "call_opened": Mail("call_opened", to=("commission", "city"), context=contexts.call_opened),
    "draft_reminder": Mail("draft_reminder", to=("city",), context=contexts.draft_reminder),
    "commission_reminder": Mail(
        "commission_reminder", to=("commission",), context=contexts.commission_reminder
    ),
    # d-N before the due date, the due day, then overdue-K: To the city, Cc the Commission
    # once overdue for [reports] escalate_after_days.
    "report_reminder": Mail(
        "report_reminder",
        context=contexts.report_reminder,
        to=("city",),
        cc=("commission_on_escalation",),
    ),
    "report_due_today": Mail(
        "report_due_today",
        context=contexts.report_reminder,
        to=("city",),
        cc=("commission_on_escalation",),
    ),
    "report_overdue": Mail(
        "report_overdue",
        context=contexts.report_reminder,
        to=("city",),
        cc=("commission_on_escalation",),
    ),
    # d-N before a call's review deadline ([jury] reminder_days_before_deadline), then the
    # day itself: to each juror with assignments of the call neither scored nor declined.
    "jury_review_reminder": Mail(
        "jury_review_reminder", to=("user",), context=contexts.jury_review
    ),
    "jury_review_due_today": Mail(
        "jury_review_due_today", to=("user",), context=contexts.jury_review
    ),
}


def mails_for(event: Event) -> tuple[Mail, ...]:
    return EVENTS.get((event.workflow, event.trigger), ())


def occasions() -> set[str]:
    """Every occasion the table can send (each needs its templates)."""
    return {m.occasion for row in EVENTS.values() for m in row} | {
        m.occasion for m in REMINDERS.values()
    }
