"""``gnlc outbox`` commands, the Maildir sender, and rows that can never be sent."""

from __future__ import annotations

import json
import mailbox
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cli.context import cli_state, reset_state
from cli.outbox import app
from config import Settings
from notifications.dispatcher import DispatchResult, dispatch
from notifications.models import OutboxMessage
from notifications.outbox import Status
from tests.conftest import utc
from tests.integration.email.conftest import SmtpServer, enqueue_many, outbox
from workflow.db import transaction

NOW = utc(2027, 4, 1, 12)


@pytest.fixture
def cli(settings: Settings) -> Iterator[CliRunner]:
    reset_state(_settings=settings)
    yield CliRunner()
    cli_state().close()  # the state of the last reset: its engine's connections


def run(runner: CliRunner, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_maildir_is_the_embedded_default(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    assert settings.mail.sender == "maildir"
    rows = enqueue_many(factory, settings, 3, NOW)
    assert dispatch(factory, settings, now=NOW, worker="t") == DispatchResult(sent=3)
    box = mailbox.Maildir(Path(settings.mail.maildir), create=False)
    copies = {m["Delivered-To"]: m for m in box}
    assert set(copies) == {r.recipient for r in rows}
    for r in rows:
        assert copies[r.recipient]["Message-ID"] == r.message_id


def test_a_malformed_address_is_parked_dead_not_retried(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    rows = enqueue_many(factory, settings, 2, NOW)
    with transaction(factory) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == rows[0].id)
            .values(recipient="city0@example.org\r\nBcc: victim@example.org")
        )
    assert dispatch(factory, settings, now=NOW, worker="t") == DispatchResult(sent=1, dead=1)
    dead = outbox(factory)[0]
    assert dead.status == Status.DEAD and "line break" in dead.last_error


@pytest.mark.smtp
def test_list_show_retry_discard_and_dispatch(
    cli: CliRunner, settings: Settings, factory: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    rows = enqueue_many(factory, settings, 3, NOW)
    smtp = settings.with_overrides(
        mail={"sender": "smtp"}, smtp={"host": "127.0.0.1", "port": smtp_server.port}
    )
    cli_state().close()
    reset_state(_settings=smtp)
    smtp_server.handler.refuse[rows[0].recipient] = "550 5.1.1 No such mailbox"
    counts = json.loads(run(cli, "dispatch", "--now", "2027-04-01T12:00", "--json"))
    assert counts == {"sent": 2, "retried": 0, "dead": 1}

    listed = json.loads(run(cli, "list", "--status", "dead", "--json"))
    assert [m["id"] for m in listed] == [rows[0].id]
    assert "550" in listed[0]["last_error"]
    assert "dead" in run(cli, "list")  # the table for people

    shown = json.loads(run(cli, "show", rows[0].message_id, "--json"))
    assert shown["id"] == rows[0].id and shown["body_text"] == rows[0].body_text
    assert rows[0].subject in run(cli, "show", str(rows[0].id))

    smtp_server.handler.refuse.clear()
    assert "sent again" in run(cli, "retry", str(rows[0].id), "--now", "2027-04-02")
    assert "1 sent" in run(cli, "dispatch", "--now", "2027-04-02T13:00")
    assert {m.status for m in outbox(factory)} == {Status.SENT}

    # Only dead or failed messages can be discarded; the refusal is one clear line.
    refused = run(cli, "discard", str(rows[1].id), code=1)
    assert "only dead or failed" in refused
    assert "No outbox message" in run(cli, "show", "999", code=1)
    assert "Unknown status" in run(cli, "list", "--status", "lost", code=1)


def test_discard_then_retry(
    cli: CliRunner, settings: Settings, factory: sessionmaker[Session]
) -> None:
    rows = enqueue_many(factory, settings, 1, NOW)
    with transaction(factory) as session:
        session.execute(update(OutboxMessage).values(status=Status.DEAD, last_error="550 no"))
    assert json.loads(run(cli, "discard", str(rows[0].id), "--json"))["status"] == "discarded"
    assert dispatch(factory, settings, now=NOW, worker="t").total == 0
    assert json.loads(run(cli, "retry", str(rows[0].id), "--json"))["status"] == "pending"


def test_dispatch_exits_non_zero_while_the_sender_is_down(
    factory: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    """A script calling ``gnlc outbox dispatch`` learns from the exit code that mail is
    waiting. (The Maildir's parent is a regular file: unwritable even for root.)"""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    broken = settings.with_overrides(mail={"maildir": str(blocker / "mail")})
    enqueue_many(factory, broken, 2, NOW)
    reset_state(_settings=broken)
    result = CliRunner().invoke(app, ["dispatch", "--now", "2027-04-01T12:00"])
    cli_state().close()
    assert result.exit_code == 1, result.output
    assert "0 sent" in result.output
    assert "sender is not working" in result.output and "not writable" in result.output
    assert "Traceback" not in result.output
    assert {r.status for r in outbox(factory)} == {Status.PENDING}
