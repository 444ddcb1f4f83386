"""The dispatcher: claim due outbox rows, send them concurrently, record each outcome.

One pass (:func:`dispatch_once`) claims batches of due rows in short transactions (on
PostgreSQL ``FOR UPDATE SKIP LOCKED``, so several dispatchers share the work; SQLite
serialises writers with ``BEGIN IMMEDIATE``). A claim sets ``status='sending'`` with a
lease (``claimed_until``) and counts the attempt; a dispatcher that dies mid-batch
leaves rows whose lease runs out, and the next pass takes them again with the same
Message-ID. Outcomes are recorded as they arrive, a few at a time (the first of a
transaction waits at most ``RECORD_WAIT_SECONDS`` for the others): a row becomes
``sent`` only after the server accepted it; a transient failure waits with exponential
backoff; a permanent one, or too many attempts, parks the row as ``dead`` for an
operator (``notifications.operator``: retry, discard).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from notifications.compose import MalformedMessage, compose, compose_wire
from notifications.models import OutboxMessage, OutboxShared
from notifications.outbox import Status, content
from notifications.senders import (
    PermanentSendError,
    Sender,
    SenderDown,
    SendError,
    build_sender,
    classify,
)
from workflow.db import transaction

log = logging.getLogger(__name__)
#: A failed message waits at least this long, so one pass never retries its own failures.
MIN_BACKOFF_SECONDS = 1.0
JITTER = 0.1
#: How long the first outcome of a transaction waits for others to join it. A message
#: the server accepted stays "sending" this much longer before it is recorded as sent.
RECORD_WAIT_SECONDS = 0.02


@dataclass(frozen=True)
class DispatchResult:
    """What one pass did: accepted by the server, to be retried, parked as dead; and,
    when the sender itself is down (:class:`SenderDown`), what is wrong with it
    (``problem``) and how many messages were put back untouched to wait (``waiting``)."""

    sent: int = 0
    retried: int = 0
    dead: int = 0
    waiting: int = 0
    problem: str = ""

    def __add__(self, other: DispatchResult) -> DispatchResult:
        return DispatchResult(
            self.sent + other.sent,
            self.retried + other.retried,
            self.dead + other.dead,
            self.waiting + other.waiting,
            self.problem or other.problem,
        )

    @property
    def total(self) -> int:
        return self.sent + self.retried + self.dead


@dataclass(frozen=True)
class Claimed:
    """A claimed row, detached from its session (it crosses threads and tasks)."""

    id: int
    recipient: str
    to_addrs: list[str]
    cc_addrs: list[str]
    subject: str
    language: str
    message_id: str
    body_text: str
    body_html: str
    attempts: int  # including the one about to be made
    lease: datetime
    occasion: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    rendered_here: bool = False  # rendered from ``context`` by this dispatcher


@dataclass(frozen=True)
class Outcome:
    claimed: Claimed
    error: SendError | None = None


@dataclass(frozen=True)
class Composed:
    """A claimed row and the message made of it, waiting for a connection."""

    claimed: Claimed
    message: EmailMessage | bytes  # bytes for a sender that sends them (Sender.wire)


@dataclass
class _Pass:
    sent: list[int] = field(default_factory=list)
    result: DispatchResult = field(default_factory=DispatchResult)


def backoff_seconds(attempts: int, settings: Settings, jitter: float = 0.0) -> float:
    """How long to wait after the ``attempts``-th attempt failed: base, 2 base, 4 base, ...
    capped at the maximum; ``jitter`` (0 to 1) adds up to 10% so retries spread out."""
    d = settings.dispatcher
    delay = min(d.backoff_max_seconds, d.backoff_base_seconds * 2.0 ** max(attempts - 1, 0))
    return max(MIN_BACKOFF_SECONDS, delay * (1.0 + JITTER * jitter))


def _due(now: datetime) -> object:
    m = OutboxMessage
    return or_(
        and_(m.status.in_([Status.PENDING, Status.FAILED]), m.next_attempt_at <= now),
        # A dispatcher died while holding these: its lease has run out.
        and_(m.status == Status.SENDING, m.claimed_until < now),
    )


def claim(
    factory: sessionmaker[Session], settings: Settings, *, now: datetime, limit: int
) -> list[Claimed]:
    """Take up to ``limit`` due rows for this dispatcher, in one short transaction."""
    m = OutboxMessage
    lease = now + timedelta(seconds=settings.dispatcher.claim_timeout_seconds)
    with transaction(factory) as session:
        # The due rows are chosen narrow (ids only: the sort of a long backlog carries no
        # message bodies), then taken with one UPDATE that returns the columns a send
        # needs. Columns, not entities: a claim builds no ORM objects, so the thread it
        # runs in holds the interpreter lock briefly while the connections wait.
        chosen = session.scalars(
            select(m.id)
            .where(_due(now))  # type: ignore[arg-type]
            .order_by(m.next_attempt_at, m.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not chosen:
            return []
        taken = session.execute(
            update(m)
            .where(m.id.in_(chosen))
            .values(status=Status.SENDING, claimed_until=lease, attempts=m.attempts + 1)
            .returning(
                m.id, m.recipient, m.to_addrs, m.cc_addrs, m.subject, m.language,
                m.message_id, m.body_text, m.body_html, m.attempts, m.occasion, m.context,
                m.next_attempt_at, m.shared_id,
            )
            .execution_options(synchronize_session=False)
        ).all()  # fmt: skip
        rows = sorted(taken, key=lambda r: (r.next_attempt_at, r.id))
        shared = _shared_contexts(session, {r.shared_id for r in rows if not r.body_text})
        return [
            Claimed(
                id=r.id,
                recipient=r.recipient,
                to_addrs=list(r.to_addrs),
                cc_addrs=list(r.cc_addrs),
                subject=r.subject,
                language=r.language,
                message_id=r.message_id,
                body_text=r.body_text,
                body_html=r.body_html,
                attempts=r.attempts,
                lease=lease,
                occasion=r.occasion,
                context={**shared.get(r.shared_id, {}), **r.context} if not r.body_text else {},
            )
            for r in rows
        ]


def _shared_contexts(session: Session, ids: set[int | None]) -> dict[int | None, dict[str, Any]]:
    """The rounds' common contexts of the claimed rows (``OutboxShared``): one query for
    a batch (its rows mostly belong to one round), none when no row has one."""
    wanted = sorted(i for i in ids if i is not None)
    if not wanted:
        return {}
    found = session.execute(
        select(OutboxShared.id, OutboxShared.context).where(OutboxShared.id.in_(wanted))
    )
    return {row.id: dict(row.context) for row in found}


def record(
    factory: sessionmaker[Session], settings: Settings, outcomes: Sequence[Outcome], now: datetime
) -> DispatchResult:
    """Write the outcomes of some sends in one short transaction."""
    table = cast(Table, OutboxMessage.__table__)
    sent = [o.claimed.id for o in outcomes if o.error is None]
    failures = []
    held = []
    retried = dead = 0
    problem = ""
    for o in outcomes:
        if o.error is None:
            continue
        c = o.claimed
        if isinstance(o.error, SenderDown):
            problem = problem or str(o.error)
            if not o.error.counts_attempt:
                # Not this message's fault: pending again, the attempt not counted.
                held.append({"b_id": c.id, "b_lease": c.lease, "b_error": str(o.error)[:2000]})
                continue
        give_up = isinstance(o.error, PermanentSendError) or (
            c.attempts >= settings.dispatcher.max_attempts
        )
        if give_up:
            dead += 1
        else:
            retried += 1
        wait = backoff_seconds(c.attempts, settings, random.random())
        failures.append(
            {
                "b_id": c.id,
                "b_lease": c.lease,
                "b_status": Status.DEAD if give_up else Status.FAILED,
                "b_next": now if give_up else now + timedelta(seconds=wait),
                "b_error": f"attempt {c.attempts}: {o.error}"[:2000],
            }
        )
    rendered = [
        {"b_id": o.claimed.id, "b_subject": o.claimed.subject, "b_text": o.claimed.body_text,
         "b_html": o.claimed.body_html}
        for o in outcomes
        if o.error is None and o.claimed.rendered_here
    ]  # fmt: skip
    with transaction(factory) as session:
        if sent:
            # Accepted by the server: true whoever holds the lease now.
            session.execute(
                update(table)
                .where(table.c.id.in_(sent))
                .values(status=Status.SENT, sent_at=now, claimed_until=None, last_error="")
            )
        if rendered:
            # Keep what was sent, as it was rendered.
            session.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(
                    subject=bindparam("b_subject"),
                    body_text=bindparam("b_text"),
                    body_html=bindparam("b_html"),
                ),
                rendered,
            )
        if failures:
            # Only while the lease is still ours: a row taken over meanwhile is not ours.
            session.execute(
                update(table)
                .where(
                    table.c.id == bindparam("b_id"),
                    table.c.status == Status.SENDING,
                    table.c.claimed_until == bindparam("b_lease", type_=table.c.claimed_until.type),
                )
                .values(
                    status=bindparam("b_status"),
                    next_attempt_at=bindparam("b_next", type_=table.c.next_attempt_at.type),
                    last_error=bindparam("b_error"),
                    claimed_until=None,
                ),
                failures,
            )
        if held:
            session.execute(
                update(table)
                .where(
                    table.c.id == bindparam("b_id"),
                    table.c.status == Status.SENDING,
                    table.c.claimed_until == bindparam("b_lease", type_=table.c.claimed_until.type),
                )
                .values(
                    status=Status.PENDING,
                    attempts=table.c.attempts - 1,
                    next_attempt_at=now,
                    last_error=bindparam("b_error"),
                    claimed_until=None,
                ),
                held,
            )
    return DispatchResult(
        sent=len(sent), retried=retried, dead=dead, waiting=len(held), problem=problem
    )


def _rendered(item: Claimed) -> Claimed:
    """A row stored with its context (the sweep's reminders) is rendered when sent."""
    if item.body_text:
        return item
    text = content(item)
    return replace(
        item,
        subject=text.subject[:300],
        body_text=text.text,
        body_html=text.html,
        rendered_here=True,
    )


def _prepare(item: Claimed, settings: Settings, now: datetime, wire: bool) -> Outcome | Composed:
    """The message to send for ``item`` (as bytes when ``wire``), or the outcome when it
    cannot be made."""
    try:
        item = _rendered(item)
    except Exception as exc:  # a template that cannot render this context: an operator looks
        return Outcome(item, PermanentSendError(f"cannot render the message: {exc}"))
    try:
        return Composed(item, (compose_wire if wire else compose)(item, settings, now))
    except MalformedMessage as exc:
        return Outcome(item, PermanentSendError(str(exc)))


async def _send(ready: Composed, sender: Sender) -> Outcome:
    try:
        await sender.send(ready.message, ready.claimed.recipient)
    except SendError as exc:
        return Outcome(ready.claimed, exc)
    except Exception as exc:  # a sender bug must not lose the row: count it as transient
        return Outcome(ready.claimed, classify(exc))
    return Outcome(ready.claimed)


async def dispatch_once(
    factory: sessionmaker[Session],
    settings: Settings,
    sender: Sender,
    *,
    now: datetime,
    worker: str,
    limit: int | None = None,
) -> DispatchResult:
    """Send everything due at ``now`` (at most ``limit`` messages) through an open sender.

    Batches are claimed ahead while the previous one is still sending, and a composed
    message waits for each connection, so the sender's connections stay busy; outcomes
    are recorded by one task while sending goes on.
    """
    concurrency = max(1, sender.concurrency)
    wire = sender.wire
    # Claimed rows wait in ``work``; one composer keeps a composed message waiting in
    # ``ready`` for each connection, so a connection that has its answer starts on the
    # next message at once, and composing happens while the connections wait.
    ahead = 2 * concurrency
    batch = settings.dispatcher.batch_size
    work: asyncio.Queue[Claimed | None] = asyncio.Queue()
    ready: asyncio.Queue[Composed | None] = asyncio.Queue(maxsize=concurrency)
    outcomes: asyncio.Queue[Outcome | None] = asyncio.Queue()
    room = asyncio.Event()
    # Set when the sender is down for every message (an unwritable Maildir): the pass
    # stops claiming and puts back what it holds without trying each one.
    down: list[SenderDown] = []

    async def feeder() -> None:
        claimed_total = 0
        while (limit is None or claimed_total < limit) and not down:
            want = batch if limit is None else min(batch, limit - claimed_total)
            items = await asyncio.to_thread(claim, factory, settings, now=now, limit=want)
            for item in items:
                work.put_nowait(item)
            claimed_total += len(items)
            if len(items) < want:
                break
            while work.qsize() > ahead and not down:  # claim again when this batch runs low
                room.clear()
                await room.wait()
        work.put_nowait(None)

    async def composer() -> None:
        while (item := await work.get()) is not None:
            if work.qsize() <= ahead:
                room.set()
            prepared = Outcome(item, down[0]) if down else _prepare(item, settings, now, wire)
            if isinstance(prepared, Outcome):
                outcomes.put_nowait(prepared)
            else:
                await ready.put(prepared)
            # Let the connections read their answers between two messages: composed
            # back to back, a batch kept every connection waiting until the last one.
            await asyncio.sleep(0)
        for _ in range(concurrency):
            await ready.put(None)

    async def connection() -> None:
        while (composed := await ready.get()) is not None:
            if down:
                outcomes.put_nowait(Outcome(composed.claimed, down[0]))
                continue
            outcome = await _send(composed, sender)
            if isinstance(outcome.error, SenderDown) and not outcome.error.counts_attempt:
                down.append(outcome.error)
                room.set()
            outcomes.put_nowait(outcome)

    async def recorder() -> DispatchResult:
        total = DispatchResult()
        done = False
        while not done:
            items = [await outcomes.get()]
            if items[0] is not None and outcomes.qsize() + 1 < 2 * concurrency:
                # A transaction for several outcomes costs what one for a single outcome
                # costs: let the other connections' answers join it, briefly (the
                # transaction's thread holds the interpreter lock while the connections
                # wait for it, so fewer and fuller ones leave them their answers sooner).
                await asyncio.sleep(RECORD_WAIT_SECONDS)
            while not outcomes.empty():
                items.append(outcomes.get_nowait())
            done = None in items
            ready = [o for o in items if o is not None]
            if ready:
                total += await asyncio.to_thread(record, factory, settings, ready, now)
        return total

    async def producers() -> None:
        await asyncio.gather(feeder(), composer(), *(connection() for _ in range(concurrency)))
        outcomes.put_nowait(None)

    async with asyncio.TaskGroup() as group:
        group.create_task(producers())
        recording = group.create_task(recorder())
    result = recording.result()
    if result.problem:
        # One line an operator can act on; the messages keep it as their last error.
        log.error(
            "mail is not going out: %s (%d message(s) put back to wait, %d to retry)",
            result.problem,
            result.waiting,
            result.retried,
        )
    if result.total:
        log.info(
            "dispatcher %s: %d sent, %d to retry, %d dead",
            worker,
            result.sent,
            result.retried,
            result.dead,
        )
    return result


def dispatch(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    now: datetime,
    worker: str,
    sender: Sender | None = None,
    limit: int | None = None,
) -> DispatchResult:
    """One pass from synchronous code (the scheduler, the CLI): open, send, close."""
    chosen = sender if sender is not None else build_sender(settings)

    async def run() -> DispatchResult:
        async with chosen:
            return await dispatch_once(
                factory, settings, chosen, now=now, worker=worker, limit=limit
            )

    return asyncio.run(run())
