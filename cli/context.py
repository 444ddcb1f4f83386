"""What every command shares: settings, the database, the clock override, output mode."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from alembic.util.exc import CommandError as AlembicCommandError
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, SettingsError, load_settings
from workflow.db import ensure_schema, make_engine, retried, session_factory
from workflow.errors import Busy, WorkflowError
from workflow.faults import database_problem

console = Console()
err_console = Console(stderr=True)

NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Act as if it were this moment: 2027-03-05, 2027-03-05T10:00 or with a zone "
        "(+02:00). A date alone means 12:00 UTC that day. Default: the real clock.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def parse_now(value: str | None) -> datetime:
    """The moment a command acts at: the override, or the real clock."""
    if not value:
        return datetime.now(UTC)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--now: {value!r} is not a date (2027-03-05) or a date and time (2027-03-05T10:00).")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


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
        url = self.settings.database.url
        with database_faults(url):
            ensure_schema(url)
            return make_engine(url)

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


def _busy_is_one_line(work: F) -> F:
    @functools.wraps(work)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return operator_faults(work)(*args, **kwargs)
        except Busy as exc:
            fail(str(exc))

    return run  # type: ignore[return-value]


@contextmanager
def database_faults(url: str) -> Iterator[None]:
    """A database fault an operator can fix (bad URL, missing database, server down,
    read-only SQLite file or folder) becomes one line and exit code 1, not a traceback."""
    try:
        yield
    except (SQLAlchemyError, OSError, ImportError, AlembicCommandError) as exc:
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
        except (SQLAlchemyError, OSError, ImportError, AlembicCommandError) as exc:
            state = cli_state()
            # Settings that were never loaded cannot have led to a database fault.
            loaded = "settings" in state.__dict__ or state._settings is not None
            problem = database_problem(exc, state.settings.database.url) if loaded else None
            if problem is None:
                raise
            fail(problem)

    return run  # type: ignore[return-value]
