"""The options every command shares, light enough for ``gnlc --help`` to import."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Act as if it were this moment: 2027-03-05, 2027-03-05T10:00 or with a zone "
        "(+02:00). A date alone means 12:00 UTC that day, as in run_scheduler.py. "
        "Default: the real clock.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _plain(params: list[Any]) -> list[Any]:
    """Arguments named in capitals; on/off flags (``--json``, ``--help``) without a value."""
    for param in params:
        if isinstance(param, TyperArgument) and param.metavar is None and param.name:
            param.metavar = param.name.upper()
        elif getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class PlainUsage(TyperCommand):
    """Help that reads as a command line: ``gnlc app submit [OPTIONS] APPLICATION_ID``
    (not ``{application_id}``), and an on/off flag shows no ``<bool>`` value, because it
    takes none."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.metavar or (param.name or "").upper()
                name = name if param.required else f"[{name}]"
                pieces.append(name + ("..." if param.nargs != 1 else ""))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


class PlainGroup(TyperGroup):
    """A group's own flags (``gnlc --json``) without ``<bool>`` either."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx))
