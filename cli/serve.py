"""``gnlc serve``: migrate, load the demo data, start the scheduler, run the portal
(in ``[web] workers`` processes; the scheduler runs once, in this one)."""

from __future__ import annotations

import importlib
import logging
from typing import Annotated, Any

import typer

from cli.context import cli_state, console, fail

app = typer.Typer(no_args_is_help=False)
log = logging.getLogger(__name__)


def _start_scheduler(settings: Any, factory: Any) -> Any:
    try:
        module = importlib.import_module("workflow.scheduler")
    except ModuleNotFoundError:
        console.print("scheduler: workflow.scheduler is not installed; running the portal only")
        return None
    scheduler = module.build_scheduler(settings, factory, blocking=False)
    scheduler.start()
    console.print(
        f"scheduler: sweep every {settings.scheduler.sweep_interval_seconds}s, "
        f"email every {settings.scheduler.dispatch_interval_seconds}s"
    )
    return scheduler


@app.command("serve")
def serve(
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="Run the portal without the scheduler.")
    ] = False,
) -> None:
    """Run the portal (and the scheduler) on the configured host and port."""
    from web.demo import PASSWORD, USERS, load_demo
    from web.serving import serve as serve_portal
    from web.sessions import SecretKeyError, resolve_secret_key

    state = cli_state()
    try:
        # Decided once, here: the workers get the same key in their settings.
        key = resolve_secret_key(state.settings)
    except SecretKeyError as exc:
        fail(str(exc), 2)
    settings = state.settings.with_overrides(web={"secret_key": key})
    factory = state.factory  # migrates the database on first use
    if settings.web.demo_data:
        load_demo(factory, settings, state.now(), world=True)  # web/demo_world.py
    scheduler = None if no_scheduler else _start_scheduler(settings, factory)
    web = settings.web
    console.print(f"portal: http://{web.host}:{web.port}/ (links in emails: {web.public_url})")
    if web.demo_data:
        console.print(f"demo sign-ins, each with the password [bold]{PASSWORD}[/bold]:")
        for email, _name, role, country, _city in USERS:
            console.print(f"  {role:<11} {email}{' (' + country + ')' if country else ''}")
        console.print("  and one per role and language: admin.fr@demo.example.org, ... (README)")
    console.print(f"portal: {web.workers} worker process(es)")
    try:
        # The workers build their own engines; the scheduler stays here, in one process.
        serve_portal(settings)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=True)
