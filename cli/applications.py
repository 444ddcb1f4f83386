"""``gnlc app``: create, edit, move and inspect applications as a given actor."""

from __future__ import annotations

from pathlib import Path
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
from cli.registry import summary
from config.paths import uploads_folder
from workflow import views
from workflow.db import transaction
from workflow.machines import APPLICATION
from workflow.services import applications as apps
from workflow.services import decisions, submissions
from workflow.uploads import store_signed_form

app = typer.Typer(help=summary("app"), no_args_is_help=True)

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


@app.command("attach")
def attach(
    application_id: int,
    file: Annotated[Path, typer.Argument(help="The form signed by the mayor, as PDF.")],
    who: AsOption,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Attach the form signed by the mayor (PDF) to a draft or returned application:
    it must be on file before either submission."""
    state = cli_state()
    limit = state.settings.web.upload_max_bytes
    try:
        with file.open("rb") as handle:
            data = handle.read(limit + 1)  # one byte past the limit: enough to refuse
    except OSError as exc:
        fail(f"Cannot read {file}: {exc.strerror or exc}. Give the path of the signed PDF.")
    with clear_errors(), transaction(state.factory) as session:
        record = store_signed_form(
            session,
            state.settings,
            resolve_actor(session, who),
            application_id,
            filename=file.name,
            data=data,
            folder=uploads_folder(state.settings),
            now=state.now(now),
        )
        shown = {
            "application_id": application_id,
            "filename": record.filename,
            "size": record.size,
            "sha256": record.sha256,
        }
        show(
            shown,
            state.wants_json(as_json),
            lambda: console.print(
                f"Application {application_id}: the signed form {record.filename} "
                f"({record.size:,} bytes) is on file."
            ),
        )


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
        row = submissions.submit(
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
        row = submissions.submit_direct(
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
        row = submissions.endorse(
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
            row = decisions.decide(
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


for _trigger in APPLICATION.triggers:  # one command a trigger, even with several rows
    _rows = [s for s in APPLICATION.steps if s.trigger == _trigger]
    if all(s.internal for s in _rows):
        continue  # told by an announcement: gnlc announcement publish / correct
    if _trigger not in ("submit", "submit_direct", "endorse"):
        _decision(_trigger, APPLICATION.label(_trigger) + ".")


@app.command("list")
def list_(
    who: AsOption = "admin",
    state_filter: Annotated[str | None, typer.Option("--state")] = None,
    call: Annotated[str | None, typer.Option(help="Call name, e.g. 2027.")] = None,
    country: Annotated[str | None, typer.Option(help="Country code, e.g. LV.")] = None,
    search: Annotated[str | None, typer.Option(help="Part of the city's name.")] = None,
    year: Annotated[int | None, typer.Option(help="The year the call opens.")] = None,
    sort: Annotated[
        str | None,
        typer.Option(help=f"{', '.join(views.APPLICATION_SORTS)}; -KEY for descending."),
    ] = None,
    order: Annotated[
        str,
        typer.Option(
            help="newest first, or waiting: what waits for you first (the portal's order)."
        ),
    ] = views.NEWEST,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 500,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many first.")] = 0,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Applications the actor may see, newest first (or --order waiting)."""
    state = cli_state()
    where = views.ApplicationFilter(
        state=state_filter, call=call, country=country, search=search, year=year, sort=sort
    )
    with clear_errors(), transaction(state.factory) as session:
        rows = views.list_applications(
            session,
            resolve_actor(session, who),
            where,
            order=order,
            limit=limit,
            offset=offset,
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
