"""``gnlc calendar``: a user's calendar feed: its secret address, a new one, the feed itself."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from cli.context import JsonOption, clear_errors, cli_state, console, emit_json, fail
from cli.registry import summary
from web import feeds
from web.sessions import SecretKeyError
from workflow.db import transaction
from workflow.models import User
from workflow.services.users import user_by_email

app = typer.Typer(help=summary("calendar"), no_args_is_help=True)
UserOption = Annotated[
    str, typer.Option("--user", help="The user's email address (`gnlc user list`).")
]


@contextmanager
def _user_unit(email: str) -> Iterator[tuple[Session, User]]:
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        try:
            yield session, user_by_email(session, email)
        except SecretKeyError as exc:
            fail(str(exc))


def _say(found: feeds.Address, as_json: bool, lead: str) -> None:
    if cli_state().wants_json(as_json):
        emit_json({"url": found.url, "renewed_at": found.renewed_at})
        return
    console.print(lead, highlight=False)
    print(found.url)


@app.command("url")
def url(user: UserOption, as_json: JsonOption = False) -> None:
    """The user's feed address (made on first use). Whoever has it reads the feed."""
    state = cli_state()
    with _user_unit(user) as (session, found):
        address = feeds.address(session, state.settings, found.id, state.now())
    _say(address, as_json, f"Calendar feed of {found.email} (keep it secret):")


@app.command("renew")
def renew(user: UserOption, as_json: JsonOption = False) -> None:
    """A new feed address for the user: the old one stops working at once."""
    state = cli_state()
    with _user_unit(user) as (session, found):
        address = feeds.renew(session, state.settings, found.id, state.now())
    _say(address, as_json, f"New calendar feed of {found.email}; the old address no longer works:")


@app.command("show")
def show(user: UserOption) -> None:
    """Print the user's feed (iCalendar) as a calendar would read it at --now
    (``> feed.ics`` saves it for a calendar app to import)."""
    state = cli_state()
    with _user_unit(user) as (session, found):
        body = feeds.calendar(session, state.settings, found, state.now())
    sys.stdout.flush()
    sys.stdout.buffer.write(body)  # the bytes as served: CRLF line ends, UTF-8
    sys.stdout.buffer.flush()
