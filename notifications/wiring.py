"""The one way a composition root wires mail to the domain: :func:`install`.

Called by the portal (``web.app.create_app``), the command line (``cli.main``'s
callback, which also covers the scheduler of ``gnlc serve`` and ``gnlc scheduler``),
``run_scheduler.py`` and the tests (``tests/conftest.py``). The handlers read
:mod:`notifications.table` for every event and occasion and write the outbox in the
caller's session; the settings travel with each publication, never with the install.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from notifications import table
from notifications.outbox import Owed, enqueue
from notifications.recipients import Recipient
from notifications.table import Parties
from workflow import events
from workflow.events import Event, Occasion, Planned
from workflow.models import Application, Membership, Report, User

if TYPE_CHECKING:
    from notifications.dispatcher import DispatchResult

log = logging.getLogger("gnlc.sweep")


def _subject(session: Session, event: Event) -> tuple[Any, Parties]:
    """The event's subject and the parties the table's rules choose from."""
    if event.subject_type == "application":
        if event.subject is not None:  # read by the transition itself
            return event.subject, of_city(event.subject.city)
        app = session.get(Application, event.subject_id)
        assert app is not None, event
        return app, of_city(app.city)
    if event.subject_type == "report":
        report = session.get(Report, event.subject_id)
        assert report is not None, event
        return report, of_city(report.membership.city)
    if event.subject_type == "membership":
        membership = session.get(Membership, event.subject_id)
        assert membership is not None, event
        return membership, of_city(membership.city)
    if event.subject_type == "user":
        user = session.get(User, event.subject_id)
        assert user is not None, event
        return user, Parties(user=Recipient(user.email, user.name, user.language))
    raise ValueError(f"no mail subject of type {event.subject_type!r}")


def of_city(city: Any) -> Parties:
    return Parties(
        city=table.city_recipient(city), commission=table.commission_recipient(city.country)
    )


def owed_for(session: Session, settings: Settings, event: Event) -> list[Owed]:
    """What ``event`` owes, by its row of the table (nothing without one)."""
    if not table.mails_for(event):
        return []
    subject, parties = _subject(session, event)
    return owed(subject, parties, settings, event)


def owed(subject: Any, parties: Parties, settings: Settings, event: Event) -> list[Owed]:
    """The messages of ``event``'s table row, for its loaded subject and parties."""
    return [
        Owed(
            mail.occasion,
            event.subject_type,
            event.subject_id,
            mail.addressing(parties, settings),
            mail.context(subject, settings, event),
            round=mail.round(event),
        )
        for mail in table.mails_for(event)
    ]


class MailHandlers:
    """The outbox as the domain's listener (``workflow.events.Handlers``)."""

    def events(
        self,
        session: Session,
        settings: Settings,
        published: Sequence[Event],
        *,
        errors: list[str] | None,
    ) -> list[Planned]:
        owed = [o for e in published for o in owed_for(session, settings, e)]
        if not owed:
            return []
        now = published[0].at
        if errors is None:
            enqueue(session, owed, now=now, from_address=settings.mail.from_address)
            return []
        return self._bulk(session, settings, owed, now, errors)

    def occasion(self, session: Session, settings: Settings, occasion: Occasion) -> list[Planned]:
        from notifications import reminders, report_sql
        from workflow.reminders import report_round_groups

        if occasion.name == "report_reminders":
            groups, _ = report_round_groups(session, settings, occasion.days)
            planned: list[Planned] = []
            for group in groups:
                planned += report_sql.enqueue_round(session, settings, group, now=occasion.at)
            return planned
        find = reminders.FINDERS[occasion.name]
        owed = find(session, settings, occasion.days, occasion.at)
        return self._bulk(session, settings, owed, occasion.at, occasion.errors)

    def deliver(
        self, factory: sessionmaker[Session], settings: Settings, *, now: datetime, worker: str
    ) -> DispatchResult:
        from notifications import dispatcher

        return dispatcher.dispatch(factory, settings, now=now, worker=worker)

    @staticmethod
    def _bulk(
        session: Session,
        settings: Settings,
        owed: Sequence[Owed],
        now: datetime,
        errors: list[str],
    ) -> list[Planned]:
        from notifications import sweep_mail

        return sweep_mail.enqueue(
            session,
            owed,
            now=now,
            from_address=settings.mail.from_address,
            errors=errors,
            log=log,
        )


def install() -> None:
    """Wire the outbox to the domain for this process (idempotent)."""
    events.install(MailHandlers())
