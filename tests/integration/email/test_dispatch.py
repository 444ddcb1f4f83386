"""The dispatcher against a real SMTP server on loopback, on SQLite and PostgreSQL.

Each test drives time by passing ``now``; faults are real: a stopped server, 4xx and
5xx answers, a dispatcher process killed with SIGKILL in the middle of a batch.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from notifications import operator
from notifications.dispatcher import DispatchResult, dispatch, dispatch_once
from notifications.outbox import Status
from notifications.senders import SmtpSender
from tests.conftest import World, utc
from tests.integration.email.conftest import Delivery, SmtpServer, enqueue_many, outbox
from workflow.db import transaction
from workflow.services import submissions

pytestmark = pytest.mark.smtp
ROOT = Path(__file__).resolve().parents[3]


def submit_jelgava(world: World, now: datetime) -> None:
    app_id = world.draft("Jelgava", now)
    with transaction(world.factory) as session:
        submissions.submit(session, world.settings, world.city("Jelgava"), app_id, now=now)


def by_rcpt(deliveries: list[Delivery]) -> dict[str, Delivery]:
    return {d.rcpt[0]: d for d in deliveries}


def test_a_submission_is_delivered_with_its_headers_and_languages(
    world: World, smtp_settings: Settings, smtp_server: SmtpServer
) -> None:
    now = utc(2027, 3, 2, 9)
    submit_jelgava(world, now)
    rows = {r.recipient: r for r in outbox(world.factory)}
    assert set(rows) == {"office@unesco.lv", "learningcities@unesco.org", "pasts@jelgava.lv"}

    result = dispatch(world.factory, smtp_settings, now=now, worker="test")

    assert result == DispatchResult(sent=3)
    got = smtp_server.handler.snapshot()
    assert sorted(d.rcpt[0] for d in got) == sorted(rows)  # one copy each, own envelope
    for d in got:
        row = rows[d.rcpt[0]]
        assert d.rcpt == (row.recipient,)
        assert d.mail_from == "learningcities@unesco.org"
        assert d.message_id == row.message_id
        assert d.message["Subject"] == row.subject
        assert d.message["Content-Language"] == row.language
        assert d.message["From"].addresses[0].addr_spec == "learningcities@unesco.org"
        plain = d.message.get_body(("plain",))
        html = d.message.get_body(("html",))
        assert plain is not None and html is not None
        assert plain.get_content().replace("\r\n", "\n") == row.body_text
        assert f'<html lang="{row.language}">' in html.get_content()
    commission = by_rcpt(got)["office@unesco.lv"].message
    assert str(commission["To"]) == "office@unesco.lv"
    assert str(commission["Cc"]) == "learningcities@unesco.org"
    assert commission["Content-Language"] == "lv"
    commission_text = commission.get_body(("plain",))
    assert commission_text is not None
    said = " ".join(commission_text.get_content().split())
    # A Latvian Commission reads Latvian throughout: the country and the network too.
    assert "Pilsēta Jelgava (Latvija) ir iesniegusi pieteikumu" in said
    assert "dalībai tīklā “UNESCO Izglītības pilsētu tīkls”" in said
    assert "(Latvia)" not in said and "Learning Cities" not in said
    lv_html = commission.get_body(("html",))
    assert lv_html is not None and "UNESCO Izglītības pilsētu tīkls</div>" in lv_html.get_content()
    network = by_rcpt(got)["learningcities@unesco.org"].message
    assert (network["To"], network["Cc"], network["Content-Language"]) == (
        "office@unesco.lv",
        "learningcities@unesco.org",
        "en",
    )
    city = by_rcpt(got)["pasts@jelgava.lv"].message
    assert str(city["To"]) == "pasts@jelgava.lv" and city["Cc"] is None
    assert city["Content-Language"] == "lv" and city["Subject"] == "Pieteikums saņemts: Jelgava"
    after = outbox(world.factory)
    assert {r.status for r in after} == {Status.SENT}
    assert all(r.sent_at == now and r.attempts == 1 for r in after)


def test_b_server_down_then_back_retries_with_backoff_and_delivers_once(
    world: World, smtp_settings: Settings, smtp_server: SmtpServer
) -> None:
    start = utc(2027, 3, 2, 9)
    submit_jelgava(world, start)
    smtp_server.stop()
    base = smtp_settings.dispatcher.backoff_base_seconds

    async def scenario() -> list[DispatchResult]:
        results = []
        # One sender for the whole outage: its connections must recover by themselves.
        async with SmtpSender(smtp_settings.smtp, smtp_settings.mail.from_address) as sender:
            now = start
            for attempt in (1, 2, 3):
                results.append(
                    await dispatch_once(world.factory, smtp_settings, sender, now=now, worker="b")
                )
                rows = outbox(world.factory)
                assert {r.status for r in rows} == {Status.FAILED}
                assert {r.attempts for r in rows} == {attempt}
                for r in rows:
                    waited = (r.next_attempt_at - now).total_seconds()
                    assert base * 2 ** (attempt - 1) <= waited <= base * 2 ** (attempt - 1) * 1.1
                    assert "attempt" in r.last_error and "Connect" in r.last_error
                # Not yet due: a pass a moment later sends nothing and changes nothing.
                early = await dispatch_once(
                    world.factory, smtp_settings, sender, now=now + timedelta(seconds=1), worker="b"
                )
                assert early.total == 0
                now = max(r.next_attempt_at for r in rows)
            smtp_server.start()
            results.append(
                await dispatch_once(world.factory, smtp_settings, sender, now=now, worker="b")
            )
            # And again: nothing is sent twice.
            results.append(
                await dispatch_once(
                    world.factory, smtp_settings, sender, now=now + timedelta(hours=2), worker="b"
                )
            )
        return results

    results = asyncio.run(scenario())
    assert [r.retried for r in results[:3]] == [3, 3, 3]
    assert results[3] == DispatchResult(sent=3) and results[4].total == 0
    delivered = Counter(d.message_id for d in smtp_server.handler.snapshot())
    rows = outbox(world.factory)
    assert delivered == Counter({r.message_id: 1 for r in rows})
    assert all(r.status == Status.SENT and r.attempts == 4 for r in rows)


def test_4xx_answers_are_retried_and_then_delivered(
    factory: sessionmaker[Session], smtp_settings: Settings, smtp_server: SmtpServer
) -> None:
    now = utc(2027, 4, 1)
    enqueue_many(factory, smtp_settings, 6, now)
    smtp_server.handler.reply = "451 4.3.0 Mail server temporarily rejected message"
    first = dispatch(factory, smtp_settings, now=now, worker="t")
    assert first == DispatchResult(retried=6)
    assert all("451" in r.last_error for r in outbox(factory))
    smtp_server.handler.reply = None
    second = dispatch(factory, smtp_settings, now=now + timedelta(minutes=5), worker="t")
    assert second == DispatchResult(sent=6)
    assert len(smtp_server.handler.snapshot()) == 6


def test_c_a_550_is_parked_dead_visible_and_an_operator_retry_sends_it(
    world: World, smtp_settings: Settings, smtp_server: SmtpServer
) -> None:
    now = utc(2027, 3, 2, 9)
    submit_jelgava(world, now)
    smtp_server.handler.refuse["office@unesco.lv"] = "550 5.1.1 Mailbox unavailable"

    result = dispatch(world.factory, smtp_settings, now=now, worker="c")

    assert result == DispatchResult(sent=2, dead=1)
    with world.factory() as session:
        dead = operator.list_messages(session, status=Status.DEAD)
    assert [m.recipient for m in dead] == ["office@unesco.lv"]
    assert "550" in dead[0].last_error and "Mailbox unavailable" in dead[0].last_error
    # Dead stays dead: later passes leave it alone.
    assert (
        dispatch(world.factory, smtp_settings, now=now + timedelta(days=2), worker="c").total == 0
    )

    smtp_server.handler.refuse.clear()
    later = now + timedelta(days=3)
    with transaction(world.factory) as session:
        retried = operator.retry(session, dead[0].id, later)
        assert (retried.status, retried.attempts) == (Status.PENDING, 0)
    assert dispatch(world.factory, smtp_settings, now=later, worker="c") == DispatchResult(sent=1)
    delivered = [d for d in smtp_server.handler.snapshot() if d.rcpt == ("office@unesco.lv",)]
    assert [d.message_id for d in delivered] == [dead[0].message_id]


def test_too_many_transient_failures_end_dead(
    factory: sessionmaker[Session], smtp_settings: Settings, smtp_server: SmtpServer
) -> None:
    limited = smtp_settings.with_overrides(dispatcher={"max_attempts": 2})
    now = utc(2027, 4, 1)
    enqueue_many(factory, limited, 2, now)
    smtp_server.handler.reply = "421 4.7.0 Try again later, closing connection"
    assert dispatch(factory, limited, now=now, worker="t") == DispatchResult(retried=2)
    later = now + timedelta(hours=1)
    assert dispatch(factory, limited, now=later, worker="t") == DispatchResult(dead=2)
    assert all(r.status == Status.DEAD and "421" in r.last_error for r in outbox(factory))


def test_d_a_dispatcher_killed_mid_batch_loses_nothing(
    db_url: str,
    factory: sessionmaker[Session],
    smtp_settings: Settings,
    smtp_server: SmtpServer,
) -> None:
    now = utc(2027, 4, 1, 12)
    rows = enqueue_many(factory, smtp_settings, 20, now)
    smtp_server.handler.delay = 0.3
    env = {
        **os.environ,
        "GNLC_DATABASE__URL": db_url,
        "GNLC_MAIL__SENDER": "smtp",
        "GNLC_SMTP__HOST": "127.0.0.1",
        "GNLC_SMTP__PORT": str(smtp_server.port),
        "GNLC_SMTP__POOL_SIZE": "2",
        "GNLC_DISPATCHER__BATCH_SIZE": "5",
    }
    script = (
        "import os, sys\n"
        "from datetime import datetime\n"
        "from config import load_settings\n"
        "from workflow.db import make_engine, session_factory\n"
        "from notifications.dispatcher import dispatch\n"
        "s = load_settings(os.environ)\n"
        "f = session_factory(make_engine(s.database.url))\n"
        "dispatch(f, s, now=datetime.fromisoformat(sys.argv[1]), worker='doomed')\n"
    )
    doomed = subprocess.Popen([sys.executable, "-c", script, now.isoformat()], cwd=ROOT, env=env)
    try:
        smtp_server.wait_for(lambda: len(smtp_server.handler.snapshot()) >= 4)
        smtp_server.wait_for(lambda: smtp_server.handler.arrived >= 7)  # some in flight
    finally:
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=30)
    before = Counter(r.status for r in outbox(factory))
    assert before[Status.SENDING] >= 1, before  # the kill left claimed rows behind
    assert before[Status.SENT] < len(rows)

    smtp_server.handler.delay = 0.0
    # Within the lease a new pass sends what was never claimed, not the claimed rows ...
    early = dispatch(factory, smtp_settings, now=now, worker="next")
    assert early == DispatchResult(sent=before[Status.PENDING])
    assert Counter(r.status for r in outbox(factory))[Status.SENDING] == before[Status.SENDING]
    # ... after it, a new pass sends those too.
    lease = timedelta(seconds=smtp_settings.dispatcher.claim_timeout_seconds + 1)
    result = dispatch(factory, smtp_settings, now=now + lease, worker="next")
    assert result == DispatchResult(sent=before[Status.SENDING])

    after = outbox(factory)
    assert {r.status for r in after} == {Status.SENT}
    ids_by_copy: dict[tuple[str, str], set[str]] = defaultdict(set)
    for d in smtp_server.handler.snapshot():
        ids_by_copy[(d.rcpt[0], str(d.message["Subject"]))].add(d.message_id)
    expected = {(r.recipient, r.subject): {r.message_id} for r in after}
    assert ids_by_copy == expected  # every copy arrived, repeats carry the same Message-ID
    repeats = len(smtp_server.handler.snapshot()) - len(after)
    assert 0 <= repeats <= 2  # at most the messages in flight on the two connections


def test_e_two_dispatchers_at_once_deliver_each_message_exactly_once(
    factory: sessionmaker[Session], smtp_settings: Settings, smtp_server: SmtpServer
) -> None:
    shared = smtp_settings.with_overrides(dispatcher={"batch_size": 15})
    now = utc(2027, 4, 1, 12)
    rows = enqueue_many(factory, shared, 200, now)
    smtp_server.handler.delay = 0.002
    results: dict[str, DispatchResult] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            results[name] = dispatch(factory, shared, now=now, worker=name)
        except BaseException as exc:  # surfaced below: a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"d{i}",)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads)
    assert sum(r.sent for r in results.values()) == 200
    delivered = Counter(d.message_id for d in smtp_server.handler.snapshot())
    assert delivered == Counter({r.message_id: 1 for r in rows})
    assert {r.status for r in outbox(factory)} == {Status.SENT}
