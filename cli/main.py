"""The ``gnlc`` command: registers every command group; ``gnlc --help`` lists them."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import (
    announcements,
    applications,
    backup,
    calendar,
    calls,
    directory,
    doctor,
    jury,
    members,
    network,
    outbox,
    questionnaires,
    secret,
    serve,
    sweep,
)
from cli.context import (
    JsonOption,
    accept_now,
    cli_state,
    console,
    plain_usage,
    reset_state,
    retrying,
    sqlite_file,
)
from notifications import wiring
from workflow.db import is_current, upgrade
from workflow.machines import WORKFLOWS

app = typer.Typer(
    name="gnlc",
    help="Membership of the UNESCO Global Network of Learning Cities: applications, "
    "members, progress reports and their emails.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db = typer.Typer(help="The database: create or upgrade the schema.", no_args_is_help=True)


@app.callback()
def main(
    ctx: typer.Context,
    now: Annotated[
        str | None,
        typer.Option(
            "--now", help="Act as if it were this moment, for every command (see COMMAND --help)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    wiring.install()  # every command's events write the outbox (and serve's scheduler)
    state = reset_state(now_override=now, json=as_json)
    ctx.call_on_close(state.close)


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the database or bring it to the newest schema (Alembic)."""
    url = cli_state().settings.database.url
    file = sqlite_file(url)
    new = file is not None and not file.exists()
    upgrade(url)
    if new:
        console.print(f"Created a new database: {file}", highlight=False, soft_wrap=True)
    console.print(f"Database is current: {_safe(url)}")


@db.command("status")
def db_status() -> None:
    """Say whether the database schema is current."""
    url = cli_state().settings.database.url
    current = is_current(url)
    console.print(f"{_safe(url)}: {'current' if current else 'needs `gnlc db upgrade`'}")
    if not current:
        raise typer.Exit(1)


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command("diagram")
def diagram(
    workflow: Annotated[str, typer.Argument(help="application, membership or report")],
) -> None:
    """Print a workflow's state diagram (Mermaid), straight from its table."""
    if workflow not in WORKFLOWS:
        console.print(f"[red]error:[/red] say one of {', '.join(WORKFLOWS)}.")
        raise typer.Exit(1)
    print(WORKFLOWS[workflow].to_mermaid())


app.add_typer(db, name="db")
app.add_typer(directory.imports, name="import")
app.add_typer(directory.countries, name="country")
app.add_typer(directory.cities, name="city")
app.add_typer(directory.users, name="user")
app.add_typer(calls.app, name="call")
app.add_typer(applications.app, name="app")
app.add_typer(announcements.app, name="announcement")
app.add_typer(members.members, name="member")
app.add_typer(members.reports, name="report")
app.add_typer(questionnaires.app, name="questionnaire")
app.add_typer(calendar.app, name="calendar")
app.add_typer(jury.app, name="jury")

app.add_typer(outbox.app, name="outbox")
# The groups that change records; the long-running commands below handle their own.
retrying(app)
for group in (sweep.app, serve.app):  # top-level commands: gnlc sweep, scheduler, serve
    app.registered_commands.extend(group.registered_commands)
app.registered_commands.extend(secret.app.registered_commands)  # gnlc secret
app.registered_commands.extend(doctor.app.registered_commands)  # gnlc doctor
app.registered_commands.extend(network.app.registered_commands)  # gnlc directory, stats
app.registered_commands.extend(backup.app.registered_commands)  # gnlc backup, restore
accept_now(app)  # last: every command takes --now, whoever registered it
plain_usage(app)
