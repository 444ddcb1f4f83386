"""``gnlc outbox``: look at the email outbox, retry or discard dead messages, dispatch."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from cli.context import (
    JsonOption,
    NowOption,
    clear_errors,
    cli_state,
    console,
    emit_json,
    fail,
)
from cli.output import table
from cli.registry import summary
from notifications import dispatcher, operator
from notifications.models import OutboxMessage
from notifications.outbox import Status
from workflow.db import transaction

app = typer.Typer(help=summary("outbox"), no_args_is_help=True)
IdArgument = Annotated[str, typer.Argument(help="The message's number or its Message-ID.")]


def message_dict(m: OutboxMessage, *, body: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": m.id,
        "status": m.status,
        "occasion": m.occasion,
        "recipient": m.recipient,
        "to": m.to_addrs,
        "cc": m.cc_addrs,
        "language": m.language,
        "subject": m.subject,
        "message_id": m.message_id,
        "attempts": m.attempts,
        "next_attempt_at": m.next_attempt_at,
        "claimed_until": m.claimed_until,
        "last_error": m.last_error,
        "created_at": m.created_at,
        "sent_at": m.sent_at,
        "about": f"{m.subject_type} {m.subject_id}",
    }
    if body:
        data["body_text"] = m.body_text
    return data


@app.command("list")
def list_(
    status: Annotated[
        str | None,
        typer.Option(help="Only this status: " + ", ".join(Status.ALL) + ".", show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """The newest messages, with their status, attempts and last error."""
    state = cli_state()
    with clear_errors(), state.factory() as session:
        messages = operator.list_messages(session, status=status, limit=limit)
    if state.wants_json(as_json):
        emit_json([message_dict(m) for m in messages])
        return
    table(
        f"Outbox ({status or 'all'}, newest first)",
        ["id", "status", "occasion", "recipient", "lang", "tries", "next / sent", "last error"],
        [
            (
                m.id,
                m.status,
                m.occasion,
                m.recipient,
                m.language,
                m.attempts,
                m.sent_at or m.next_attempt_at,
                m.last_error[:60],
            )
            for m in messages
        ],
    )


@app.command()
def show(message: IdArgument, as_json: JsonOption = False) -> None:
    """One message: its headers, status and plain-text body."""
    state = cli_state()
    with clear_errors(), state.factory() as session:
        m = operator.find_message(session, message)
    if state.wants_json(as_json):
        emit_json(message_dict(m, body=True))
        return
    data = message_dict(m)
    for key in ("to", "cc"):
        data[key] = ", ".join(data[key])
    for key, value in data.items():
        console.print(f"[bold]{key}:[/bold] {'' if value is None else value}", highlight=False)
    console.print()
    console.print(m.body_text, highlight=False, markup=False)


@app.command()
def retry(message: IdArgument, now: NowOption = None, as_json: JsonOption = False) -> None:
    """Send a dead or failed message again at the next dispatch (attempts start over)."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        m = operator.retry(session, message, state.now(now))
        data = message_dict(m)
    if state.wants_json(as_json):
        emit_json(data)
    else:
        console.print(f"Message {data['id']} to {data['recipient']} will be sent again.")


@app.command()
def discard(message: IdArgument, as_json: JsonOption = False) -> None:
    """Give up on a dead message: it is never sent (``retry`` can still revive it)."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        data = message_dict(operator.discard(session, message))
    if state.wants_json(as_json):
        emit_json(data)
    else:
        console.print(f"Message {data['id']} to {data['recipient']} discarded.")


@app.command()
def dispatch(now: NowOption = None, as_json: JsonOption = False) -> None:
    """One pass: send every message due now through the configured sender."""
    state = cli_state()
    with clear_errors():
        result = dispatcher.dispatch(
            state.factory, state.settings, now=state.now(now), worker=f"cli-{os.getpid()}"
        )
    counts = {"sent": result.sent, "retried": result.retried, "dead": result.dead}
    if state.wants_json(as_json):
        emit_json(counts)
    else:
        console.print(
            f"{result.sent} sent, {result.retried} to retry later, {result.dead} dead "
            f"(via {state.settings.mail.sender})."
        )
    if result.problem:
        # The sender is down (SMTP unreachable, Maildir not writable): the mail waits in
        # the outbox, and a script calling this learns it from the exit code.
        fail(f"the sender is not working: {result.problem}")
