"""``gnlc db`` (the schema) and ``gnlc diagram`` (a workflow's table as a diagram)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.context import cli_state, console, sqlite_file
from cli.registry import summary

app = typer.Typer()
db = typer.Typer(help=summary("db"), no_args_is_help=True)


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the database or bring it to the newest schema (Alembic)."""
    from workflow.db import upgrade

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
    from workflow.db import is_current

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
    workflow: Annotated[str, typer.Argument(help="application, membership, report or assignment")],
) -> None:
    """Print a workflow's state diagram (Mermaid), straight from its table."""
    from workflow.machines import WORKFLOWS

    if workflow not in WORKFLOWS:
        console.print(f"[red]error:[/red] say one of {', '.join(WORKFLOWS)}.")
        raise typer.Exit(1)
    print(WORKFLOWS[workflow].to_mermaid())
