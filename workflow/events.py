"""What happened, as the domain records it; who is told is decided elsewhere.

The domain does not send mail. Every transition (``services.common.fire``, the sweep's
``bulk_fire``) records an :class:`Event`; the sweep also names the reminder
:class:`Occasion` it has reached ("the report reminders due today"). The domain hands
them to the :class:`Handlers` that a composition root installed (``notifications.wiring.
install()``: the portal's ``create_app``, the ``gnlc`` command line, ``run_scheduler.py``,
the tests' conftest). Handlers run inside the caller's session, so what they write (the
outbox rows) commits or rolls back with the change itself.

Publishing with no handler installed raises :class:`NotWired`: mail is never dropped
silently because a process forgot to wire it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from workflow.actors import Actor

#: ``session.info`` key of the events recorded and not yet published.
PENDING = "gnlc.events"


@dataclass(frozen=True)
class Event:
    """One transition of one subject: who moved it, from where to where, when.

    ``round`` tells repeated transitions of a subject apart (the audit event's id);
    ``facts`` carries the little more a handler may need (e.g. the oldest overdue due
    date that made a membership inactive). ``subject`` is the record as the transition
    left it, when the transition read it without the ORM (``workflow.services.
    transit``): the handlers describe it instead of loading it again.
    """

    workflow: str
    subject_type: str
    subject_id: int
    trigger: str
    source: str | None
    dest: str | None
    actor: Actor
    comment: str
    at: datetime
    round: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)
    subject: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Occasion:
    """A reminder moment the sweep reached: ``name`` (a reminder kind) is due at ``at``.

    ``days`` gives today's local date in a timezone (``None`` for a broken zone), and
    ``errors`` collects what a handler had to skip.
    """

    name: str
    at: datetime
    days: Callable[[str], date | None]
    errors: list[str]


@dataclass(frozen=True)
class Planned:
    """A message a handler enqueued (or, in a dry run, would enqueue)."""

    occasion: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    language: str
    key: str


class Delivery(Protocol):
    """What one delivery pass reports (``notifications.dispatcher.DispatchResult``)."""

    @property
    def sent(self) -> int: ...
    @property
    def retried(self) -> int: ...
    @property
    def dead(self) -> int: ...
    @property
    def waiting(self) -> int: ...
    @property
    def problem(self) -> str: ...


class Handlers(Protocol):
    """What a composition root installs: it hears events and occasions, and delivers."""

    def events(
        self,
        session: Session,
        settings: Settings,
        published: Sequence[Event],
        *,
        errors: list[str] | None,
    ) -> list[Planned]: ...

    def occasion(
        self, session: Session, settings: Settings, occasion: Occasion
    ) -> list[Planned]: ...

    def deliver(
        self, factory: sessionmaker[Session], settings: Settings, *, now: datetime, worker: str
    ) -> Delivery: ...


class NotWired(RuntimeError):
    """Something was published, and nobody installed a handler to hear it."""

    def __init__(self) -> None:
        super().__init__(
            "no event handlers are installed: call notifications.wiring.install() in the "
            "composition root (portal, command line, scheduler, tests) before using the domain"
        )


_installed: Handlers | None = None


def install(handlers: Handlers) -> None:
    """Make ``handlers`` hear every event and occasion of this process from now on."""
    global _installed
    _installed = handlers


def uninstall() -> None:
    global _installed
    _installed = None


def handlers() -> Handlers:
    if _installed is None:
        raise NotWired()
    return _installed


def record(session: Session, event: Event) -> None:
    """Keep ``event`` with the session until the unit of work publishes it."""
    session.info.setdefault(PENDING, []).append(event)


def publish(
    session: Session,
    settings: Settings,
    events: Sequence[Event] | None = None,
    *,
    errors: list[str] | None = None,
) -> list[Planned]:
    """Hand ``events`` (by default: those recorded in ``session`` so far, which are then
    forgotten) to the installed handlers, in the caller's transaction.

    With ``errors``, the sweep's way: messages store their context and render when sent,
    and one that cannot be written is skipped and said in ``errors`` instead of failing
    the unit of work.
    """
    chosen = list(session.info.pop(PENDING, [])) if events is None else list(events)
    found = handlers()  # even with nothing to say: a process that is not wired fails early
    return found.events(session, settings, chosen, errors=errors) if chosen else []


def occur(session: Session, settings: Settings, occasion: Occasion) -> list[Planned]:
    """The sweep reached ``occasion``: the handlers enqueue what it owes."""
    return handlers().occasion(session, settings, occasion)


def deliver(
    factory: sessionmaker[Session], settings: Settings, *, now: datetime, worker: str
) -> Delivery:
    """One delivery pass (the scheduler's second job)."""
    return handlers().deliver(factory, settings, now=now, worker=worker)


@sa_event.listens_for(Session, "after_commit")
@sa_event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    """Events recorded in a unit of work never outlive it: a later unit in the same
    session does not publish them as its own."""
    session.info.pop(PENDING, None)
