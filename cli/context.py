"""What every command shares: settings, the database, the clock override, output mode."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from inspect import Parameter, signature
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from typer.core import TyperCommand

from cli.options import JsonOption as JsonOption
from cli.options import NowOption as NowOption
from cli.options import PlainGroup, PlainUsage
from config import Settings, SettingsError, load_settings
from config.clock import parse_moment
from workflow.db import ensure_schema, make_engine, retried, session_factory
from workflow.errors import Busy, Unavailable, WorkflowError
from workflow.faults import database_problem

console = Console()
err_console = Console(stderr=True)


def parse_now(value: str | None) -> datetime:
    """The moment a command acts at: the override (``config.clock``), or the real clock."""
    if not value:
        return datetime.now(UTC)
    try:
        return parse_moment(value)
    except ValueError as exc:
        fail(f"--now: {exc}.")


@dataclass
class CliState:
    """Built once per invocation from the global options."""

    now_override: str | None = None
    json: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    @cached_property
    def settings(self) -> Settings:
        if self._settings is not None:
            return self._settings
        try:
            return load_settings()
        except SettingsError as exc:
            message = escape(str(exc))
            err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    @cached_property
    def engine(self) -> Engine:
        from notifications import wiring

        wiring.install()  # every command's events write the outbox (and the scheduler's)
        url = self.settings.database.url
        with database_faults(url):
            file = sqlite_file(url)
            new = file is not None and not file.exists()
            engine = make_engine(url)
            ensure_schema(url, engine)
            if new:
                # Never quietly: the operator learns where the data went (GNLC_HOME).
                err_console.print(
                    f"Created a new database: {file}", highlight=False, soft_wrap=True
                )
            return engine

    @cached_property
    def factory(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    def close(self) -> None:
        """Release the database connections (once the command is done)."""
        if "engine" in self.__dict__:
            self.engine.dispose()
            del self.__dict__["engine"]
            self.__dict__.pop("factory", None)

    def now(self, override: str | None = None) -> datetime:
        return parse_now(override or self.now_override)

    def wants_json(self, flag: bool = False) -> bool:
        return flag or self.json


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (not an in-memory one), else None."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).resolve()


_STATE = CliState()


def cli_state() -> CliState:
    return _STATE


def reset_state(**values: Any) -> CliState:
    """A fresh state (each invocation, and tests running several in one process)."""
    global _STATE
    _STATE = CliState(**values)
    return _STATE


def fail(message: str, code: int = 1) -> NoReturn:
    # Escaped: messages name settings such as "[database] url", which are not markup.
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def clear_errors() -> Iterator[None]:
    """Domain refusals become one clear line on stderr and exit code 1."""
    try:
        yield
    except WorkflowError as exc:
        fail(str(exc))


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


F = TypeVar("F", bound=Callable[..., Any])


def retrying(group: typer.Typer) -> None:
    """Every command of ``group`` (and its subgroups) runs again when the database says
    it lost a race; if it keeps losing, one line says so (see ``workflow.db.retried``)."""
    for command in group.registered_commands:
        if command.callback is not None:
            command.callback = _busy_is_one_line(retried(command.callback))
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            retrying(sub.typer_instance)


def accept_now(group: typer.Typer) -> None:
    """Every command of ``group`` (and its subgroups) takes ``--now``, as the README says:
    a command that does not declare it gets it here, and it means what the global
    ``gnlc --now`` means (the moment its services and lists act at)."""
    for command in group.registered_commands:
        if command.callback is not None and "now" not in signature(command.callback).parameters:
            command.callback = _with_now(command.callback)
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            accept_now(sub.typer_instance)


def _with_now(work: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(work)
    def run(*args: Any, now: str | None = None, **kwargs: Any) -> Any:
        if now:
            cli_state().now_override = now
        return work(*args, **kwargs)

    declared = signature(work, eval_str=True)  # the annotations as objects, not strings
    option = Parameter("now", Parameter.KEYWORD_ONLY, default=None, annotation=NowOption)
    run.__signature__ = declared.replace(  # type: ignore[attr-defined]
        parameters=[*declared.parameters.values(), option]
    )
    run.__annotations__ = {
        **{name: p.annotation for name, p in declared.parameters.items()},
        "now": NowOption,
        "return": declared.return_annotation,
    }
    return run


def plain_usage(group: typer.Typer) -> None:
    """Every command of ``group`` (and its subgroups) prints :class:`PlainUsage` help."""
    if not isinstance(group.info.cls, type):  # typer's default placeholder
        group.info.cls = PlainGroup
    for command in group.registered_commands:
        if command.cls in (None, TyperCommand):
            command.cls = PlainUsage
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            plain_usage(sub.typer_instance)


def _busy_is_one_line(work: F) -> F:
    @functools.wraps(work)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return operator_faults(work)(*args, **kwargs)
        except (Busy, Unavailable) as exc:
            fail(str(exc))

    return run  # type: ignore[return-value]


def _faults() -> tuple[type[BaseException], ...]:
    """The exceptions an operator's database fault arrives as. Alembic's is one of them
    only once Alembic was imported (it can't be raised before): a read command never
    imports Alembic."""
    alembic = sys.modules.get("alembic.util.exc")
    extra = (alembic.CommandError,) if alembic is not None else ()
    return (SQLAlchemyError, OSError, ImportError, *extra)


@contextmanager
def database_faults(url: str) -> Iterator[None]:
    """A database fault an operator can fix (bad URL, missing database, server down,
    read-only SQLite file or folder) becomes one line and exit code 1, not a traceback."""
    try:
        yield
    except _faults() as exc:
        problem = database_problem(exc, url)
        if problem is None:
            raise
        fail(problem)


def operator_faults(work: F) -> F:
    """``work`` (a command) with :func:`database_faults` around it, for faults that show
    only once the command writes (a read-only SQLite file opens, then refuses writes)."""

    @functools.wraps(work)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return work(*args, **kwargs)
        except _faults() as exc:
            state = cli_state()
            # Settings that were never loaded cannot have led to a database fault.
            loaded = "settings" in state.__dict__ or state._settings is not None
            problem = database_problem(exc, state.settings.database.url) if loaded else None
            if problem is None:
                raise
            fail(problem)

    return run  # type: ignore[return-value]
