"""``gnlc announcement``: the Institute's decisions told in batches: start a draft, add
decided applications (or every unannounced decision of a call), publish it on a date
with a title, correct a published decision with a reason."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from cli.context import JsonOption, NowOption, clear_errors, cli_state
from cli.output import AsOption, resolve_actor, show, table
from cli.registry import summary
from workflow.db import transaction
from workflow.models import Announcement
from workflow.services import announcements as service

app = typer.Typer(help=summary("announcement"), no_args_is_help=True)
Key = Annotated[int, typer.Argument(help="The announcement's number (`gnlc announcement list`).")]


def announcement_dict(found: Announcement, decisions: list[Any]) -> dict[str, Any]:
    return {
        "id": found.id,
        "title": found.title,
        "state": found.state,
        "date": found.date.isoformat() if found.date else None,
        "published_at": found.published_at.isoformat() if found.published_at else None,
        "corrected": found.corrected,
        "decisions": [{"application": a.id, "city": a.city.name, "country": a.country_code,
                       "state": a.state} for a in decisions],
    }  # fmt: skip


def _print(found: Announcement, decisions: list[Any], as_json: bool) -> None:
    data = announcement_dict(found, decisions)
    title = (
        f"Announcement {found.id} ({found.state}) {found.title!r}"
        + (f" on {found.date}" if found.date else "")
        + f": {len(decisions)} decisions"
        + (f", {found.corrected} corrected" if found.corrected else "")
    )
    show(
        data,
        as_json,
        lambda: table(
            title,
            ["application", "city", "country", "decision"],
            [[d["application"], d["city"], d["country"], d["state"]] for d in data["decisions"]],
        ),
    )


@app.command("new")
def new(
    who: AsOption,
    title: Annotated[str, typer.Option(help="The title (may wait until publication).")] = "",
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start a draft announcement."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        found = service.create(
            session, state.settings, resolve_actor(session, who), title=title,
            now=state.now(now),
        )  # fmt: skip
        _print(found, [], state.wants_json(as_json))


@app.command("add")
def add(
    key: Key,
    who: AsOption,
    application: Annotated[
        list[int] | None, typer.Option("--application", help="A decided application, repeatable.")
    ] = None,
    call: Annotated[
        str | None, typer.Option(help="Add every unannounced decision of this call.")
    ] = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add decided, unannounced applications to a draft announcement."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        actor = resolve_actor(session, who)
        service.add(
            session, state.settings, actor, key, application_ids=application or [], call=call,
            now=state.now(now),
        )  # fmt: skip
        found = service.load(session, actor, key)
        _print(found, service.decisions_of(session, key), state.wants_json(as_json))


@app.command("publish")
def publish(
    key: Key,
    who: AsOption,
    on: Annotated[str, typer.Option("--date", help="The announcement's date, YYYY-MM-DD.")],
    title: Annotated[str | None, typer.Option(help="The title.")] = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Publish: every decision in it is told, admitted cities are members from its date."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        actor = resolve_actor(session, who)
        found = service.publish_announcement(
            session, state.settings, actor, key, on=date.fromisoformat(on), title=title,
            now=state.now(now),
        )  # fmt: skip
        _print(found, service.decisions_of(session, key), state.wants_json(as_json))


@app.command("correct")
def correct(
    key: Key,
    who: AsOption,
    application: Annotated[int, typer.Option("--application", help="The decision to correct.")],
    reason: Annotated[str, typer.Option(help="Why (told to the city and its Commission).")],
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Correct a published decision: admitted becomes not admitted, or the other way."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        actor = resolve_actor(session, who)
        service.correct(
            session, state.settings, actor, key, application, reason=reason, now=state.now(now)
        )
        found = service.load(session, actor, key)
        _print(found, service.decisions_of(session, key), state.wants_json(as_json))


@app.command("show")
def show_one(key: Key, who: AsOption = "institute", as_json: JsonOption = False) -> None:
    """One announcement and its decisions."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        found = service.load(session, resolve_actor(session, who), key)
        _print(found, service.decisions_of(session, key), state.wants_json(as_json))


@app.command("list")
def list_all(who: AsOption = "institute", as_json: JsonOption = False) -> None:
    """Every announcement, newest first."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        found = service.list_announcements(session, resolve_actor(session, who))
        rows = [
            {**announcement_dict(a, service.decisions_of(session, a.id)),
             "cities": service.city_count(session, a)}
            for a in found
        ]  # fmt: skip

        def render() -> None:
            table(
                "Announcements",
                ["announcement", "state", "date", "cities", "title"],
                [[r["id"], r["state"], r["date"] or "-", r["cities"], r["title"]] for r in rows],
            )  # fmt: skip

        show(rows, state.wants_json(as_json), render)
