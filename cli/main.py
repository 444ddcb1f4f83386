"""The ``gnlc`` command. ``gnlc --help`` lists every command from :mod:`cli.registry`
without importing one; a command's module is imported when it runs or shows its help."""

from __future__ import annotations

import gc
import importlib
from typing import Annotated, Any

import typer
import typer.main
from typer import _click as click  # Typer (0.29) brings its own click
from typer.core import TyperCommand

from cli.options import JsonOption, PlainGroup
from cli.registry import ENTRIES, Entry


def _prepare(group: typer.Typer, entry: Entry) -> None:
    """What every command gets, whoever registered it: ``--now``, plain usage lines,
    and (for the ones that change records) a retry when the database lost a race."""
    from cli.context import accept_now, plain_usage, retrying

    if entry.retried:
        retrying(group)
    accept_now(group)
    plain_usage(group)


def load(name: str) -> click.Command:
    """The click command of ``gnlc NAME``: its module imported and prepared."""
    entry = ENTRIES[name]
    group: typer.Typer = getattr(importlib.import_module(entry.module), entry.attribute)
    if not getattr(group, "_gnlc_prepared", False):
        _prepare(group, entry)
        group._gnlc_prepared = True  # type: ignore[attr-defined]  # modules hold several
    if entry.command is None:
        return typer.main.get_group(group)
    commands = typer.main.get_group(group).commands
    return commands[entry.command]


class _Unloaded(TyperCommand):
    """A name of the listing whose module is not imported yet."""


class LazyGroup(PlainGroup):
    """``gnlc``: the registry's commands, each imported when it is asked for. Listing
    them (``gnlc --help``, a typo's suggestion) uses the registry and imports nothing."""

    _listing = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, entry in ENTRIES.items():
            self.commands.setdefault(
                name, _Unloaded(name, help=entry.summary, short_help=entry.summary)
            )

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if isinstance(command, _Unloaded) and not self._listing:
            command = self.commands[cmd_name] = load(cmd_name)
        return command

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


class Gnlc(typer.Typer):
    """``gnlc`` as a process (the console script calls it). While the command's modules
    load, the cyclic garbage collector waits: the imports make hundreds of thousands of
    objects that live as long as the process, which it would walk again and again, and
    once more at exit. They are frozen out of its reach (``gc.freeze``) before the command
    runs, with the collector on as usual (the scheduler and the portal run for days), and
    again at exit, where the interpreter's last collection walked them all once more.
    ``gnlc call list`` on the demo spent 40-47 ms of CPU in 197 collections before its
    exit, now 6 ms in 38 (``gc.callbacks``); as whole processes (the console script, on
    benchmark 5's database) it and ``gnlc app show 1`` take 0.71-0.76x the CPU they took."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        global _paused
        _paused = gc.isenabled()
        gc.disable()
        try:
            return super().__call__(*args, **kwargs)
        finally:
            resume_collector()
            gc.freeze()  # nor need the interpreter's last collection walk them


_paused = False


def resume_collector() -> None:
    """The collector on again, what was made so far frozen (see :class:`Gnlc`); nothing
    unless :class:`Gnlc` paused it (tests invoke the commands in their own process)."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


app = Gnlc(
    name="gnlc",
    help="Membership of the UNESCO Global Network of Learning Cities: applications, "
    "members, progress reports and their emails.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
)


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
    resume_collector()
    from cli.context import reset_state

    # The outbox is wired (``notifications.wiring.install``) when a command first opens
    # the database: every command's events write the outbox, and so does the scheduler.
    state = reset_state(now_override=now, json=as_json)
    ctx.call_on_close(state.close)
