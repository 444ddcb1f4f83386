"""``gnlc app``: create, edit, move and inspect applications as a given actor."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.context import JsonOption, NowOption, clear_errors, cli_state, console, fail
from cli.output import (
    AsOption,
    application_dict,
    event_dict,
    history_table,
    resolve_actor,
    show,
    table,
)
from workflow.db import transaction
from workflow.machines import APPLICATION
from workflow.services import applications as apps

app = typer.Typer(
    help="Applications: draft, submit, endorse, decide, list, show.", no_args_is_help=True
)

CommentOption = Annotated[str, typer.Option("--comment", "-m", help="Why (the city reads it).")]
VersionOption = Annotated[
    int | None, typer.Option("--version", help="Refuse if the record moved past this version.")
]


def _form(
    motivation: str | None, plan: str | None, challenge: list[str] | None, signed_by: str | None
) -> dict[str, Any]:
    form: dict[str, Any] = {
        "motivation": motivation,
        "implementation_plan": plan,
        "signed_by": signed_by,
    }
    if challenge:
        ratings: dict[str, int] = {}
        for item in challenge:
            area, _, value = item.partition("=")
            if not value.strip().isdigit():
                fail(f"--challenge {item!r}: write AREA=RATING, e.g. governance=3.")
            ratings[area.strip()] = int(value)
        form["challenges"] = ratings
    return form


Motivation = Annotated[str | None, typer.Option(help="Motivation, at most 200 words.")]
Plan = Annotated[str | None, typer.Option("--plan", help="Implementation plan, at most 200 words.")]
Challenge = Annotated[
    list[str] | None,
    typer.Option(help=f"AREA=1..5, repeatable; areas: {', '.join(apps.CHALLENGES)}."),
]
SignedBy = Annotated[str | None, typer.Option("--signed-by", help="The mayor who signed.")]


def _print(app_row: Any, as_json: bool) -> None:
    data = application_dict(app_row)
    show(
        data,
        as_json,
        lambda: console.print(
            f"Application {app_row.id} of {app_row.city.name} ({app_row.country_code}), call "
            f"{app_row.call.name}: [bold]{app_row.state}[/bold] (version {app_row.version})"
        ),
    )


@app.command("new")
def new(
    who: AsOption,
    motivation: Motivation = None,
    plan: Plan = None,
    challenge: Challenge = None,
    signed_by: SignedBy = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start an application (a draft) in the call open now, or the next one."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        actor = resolve_actor(session, who)
        row = apps.create_draft(
            session,
            state.settings,
            actor,
            now=state.now(now),
            **_form(motivation, plan, challenge, signed_by),
        )
        _print(row, state.wants_json(as_json))


@app.command("edit")
def edit(
    application_id: int,
    who: AsOption,
    motivation: Motivation = None,
    plan: Plan = None,
    challenge: Challenge = None,
    signed_by: SignedBy = None,
    version: VersionOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change the form of a draft or returned application."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        actor = resolve_actor(session, who)
        row = apps.update_draft(
            session,
            state.settings,
            actor,
            application_id,
            now=state.now(now),
            version=version,
            **_form(motivation, plan, challenge, signed_by),
        )
        _print(row, state.wants_json(as_json))


@app.command("submit")
def submit(
    application_id: int,
    who: AsOption,
    version: VersionOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send the application to the National Commission (copy to the network)."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        row = apps.submit(
            session,
            state.settings,
            resolve_actor(session, who),
            application_id,
            now=state.now(now),
            version=version,
        )
        _print(row, state.wants_json(as_json))


@app.command("submit-direct")
def submit_direct(
    application_id: int,
    who: AsOption,
    endorsement: Annotated[
        str, typer.Option(help="The Commission's endorsement: reference, date, signatory.")
    ],
    version: VersionOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send the application, already endorsed, directly to the Institute."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        row = apps.submit_direct(
            session,
            state.settings,
            resolve_actor(session, who),
            application_id,
            now=state.now(now),
            endorsement=endorsement,
            version=version,
        )
        _print(row, state.wants_json(as_json))


@app.command("endorse")
def endorse(
    application_id: int,
    who: AsOption,
    comment: CommentOption = "",
    version: VersionOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """The Commission endorses and forwards to the Institute (copy to the city)."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        row = apps.endorse(
            session,
            state.settings,
            resolve_actor(session, who),
            application_id,
            now=state.now(now),
            comment=comment,
            version=version,
        )
        _print(row, state.wants_json(as_json))


def _decision(trigger: str, doc: str) -> None:
    def command(
        application_id: int,
        who: AsOption,
        comment: CommentOption = "",
        version: VersionOption = None,
        now: NowOption = None,
        as_json: JsonOption = False,
    ) -> None:
        state = cli_state()
        with clear_errors(), transaction(state.factory) as session:
            row = apps.decide(
                session,
                state.settings,
                resolve_actor(session, who),
                application_id,
                trigger,
                now=state.now(now),
                comment=comment,
                version=version,
            )
            _print(row, state.wants_json(as_json))

    command.__doc__ = doc
    app.command(trigger.replace("_", "-"))(command)


for _step in APPLICATION.steps:
    if _step.trigger not in ("submit", "submit_direct", "endorse"):
        _decision(_step.trigger, _step.label + ".")


@app.command("list")
def list_(
    who: AsOption = "admin",
    state_filter: Annotated[str | None, typer.Option("--state")] = None,
    call: Annotated[str | None, typer.Option(help="Call name, e.g. 2027.")] = None,
    country: Annotated[str | None, typer.Option(help="Country code, e.g. LV.")] = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Applications the actor may see, newest first."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        rows = apps.list_applications(
            session, resolve_actor(session, who), state=state_filter, call=call, country=country
        )
        show(
            [application_dict(r) for r in rows],
            state.wants_json(as_json),
            lambda: table(
                "Applications",
                ["id", "city", "country", "call", "route", "state", "submitted"],
                [
                    (
                        r.id,
                        r.city.name,
                        r.country_code,
                        r.call.name,
                        r.route,
                        r.state,
                        r.submitted_at,
                    )
                    for r in rows
                ],
            ),
        )


@app.command("show")
def show_(
    application_id: int, who: AsOption = "admin", now: NowOption = None, as_json: JsonOption = False
) -> None:
    """One application with its history, the actions allowed now and what comes next."""
    state = cli_state()
    moment = state.now(now)
    with clear_errors(), transaction(state.factory) as session:
        actor = resolve_actor(session, who)
        row = apps.get_application(session, actor, application_id)
        events = apps.history(session, actor, application_id)
        allowed = [s.trigger for s in APPLICATION.allowed(row.state, actor.role)]
        nxt = apps.next_steps(row, actor, moment)
        data = {
            **application_dict(row),
            "allowed_actions": allowed,
            "next": nxt,
            "history": [event_dict(e) for e in events],
        }

        def render() -> None:
            _print(row, False)
            console.print(
                f"Route: {row.route}.  Allowed for {actor.role.value}: "
                f"{', '.join(allowed) or 'none'}"
            )
            for line in nxt:
                console.print(f"Next: {line}")
            history_table(events)

        show(data, state.wants_json(as_json), render)
