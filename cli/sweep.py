"""``gnlc sweep`` (what is due now, or what would be) and ``gnlc scheduler`` (run it)."""

from __future__ import annotations

import logging
import sys
import time
from typing import Annotated

import typer
from rich.table import Table

from cli.context import (
    JsonOption,
    NowOption,
    cli_state,
    console,
    emit_json,
    operator_faults,
)
from cli.output import table
from workflow.scheduler import beat, run_once, run_until_stopped, sweep_detail
from workflow.sweep import SweepReport, sweep

app = typer.Typer()


def _show(report: SweepReport, as_json: bool) -> None:
    if as_json:
        emit_json(report.as_dict())
        return
    if report.dry_run:
        console.print(f"Dry run at {report.now.isoformat()}: nothing was changed or sent.")
    else:
        console.print(f"Sweep at {report.now.isoformat()}.")
    table(
        "Would change" if report.dry_run else "Changed",
        ["change", "count"],
        sorted((kind, count) for kind, count in report.changes.items() if count),
    )
    mail = Table(
        title=f"{'Would mail' if report.dry_run else 'Enqueued'}: {report.enqueued}",
        title_justify="left",
        header_style="bold",
    )
    mail.add_column("occasion", no_wrap=True, min_width=19)
    for column in ("copy for", "language", "to", "cc"):
        mail.add_column(column)
    for m in report.messages:
        mail.add_row(
            m.occasion, m.key.rsplit(":", 1)[-1], m.language, ", ".join(m.to), ", ".join(m.cc)
        )
    console.print(mail)
    for error in report.errors:
        console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)


def _log_to_stderr(level: int) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command("sweep")
@operator_faults
def sweep_command(
    now: NowOption = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Show what would change and who would be mailed; change nothing."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run the sweep once (windows, expiry, report deadlines, reminders) at --now."""
    state = cli_state()
    started = time.monotonic()
    report = sweep(state.factory, state.settings, now=state.now(now), dry_run=dry_run)
    if not dry_run:
        beat(state.factory, "sweep", time.monotonic() - started, sweep_detail(report))
    _show(report, state.wants_json(as_json))
    if report.errors:
        raise typer.Exit(1)


@app.command("scheduler")
@operator_faults
def scheduler_command(
    once: Annotated[
        bool, typer.Option("--once", help="One sweep and one dispatch pass, then exit.")
    ] = False,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the scheduler (sweep and dispatcher) until Ctrl-C or SIGTERM, or --once."""
    state = cli_state()
    override = now or state.now_override
    if once:
        # Warnings and errors only: a sender that is down is said in one line.
        _log_to_stderr(logging.WARNING)
        report, result = run_once(state.factory, state.settings, now=state.now(override))
        _show(report, state.wants_json(as_json))
        if result is not None and not state.wants_json(as_json):
            console.print(
                f"Dispatched: {result.sent} sent, {result.retried} to retry, {result.dead} dead"
                + (f", {result.waiting} waiting." if result.waiting else ".")
            )
        if report.errors or (result is not None and result.problem):
            raise typer.Exit(1)
        return
    _log_to_stderr(logging.INFO)
    run_until_stopped(
        state.settings, state.factory, now_override=state.now(override) if override else None
    )
