"""``gnlc doctor``: check an installation and say, one line each, what is wrong and how
to fix it: the settings, the database and its schema, the sender (Maildir or SMTP), the
secret key, the uploads folder, the scheduler's heartbeat and the dead letters.

The doctor only looks: it never creates or migrates the database (it opens a SQLite
file read-only and builds its own engine, not the one every other command migrates),
and it creates no folder. It writes and removes one probe file in a folder it checks
for writability, since only a write tells for sure. Exit code 1 when a check failed.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from rich.markup import escape
from sqlalchemy import Engine, create_engine, func, inspect, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from cli.context import JsonOption, cli_state, console, emit_json
from cli.output import count as how_many
from config import Settings, SettingsError, load_settings
from notifications.models import OutboxMessage
from notifications.outbox import Status
from notifications.senders import SenderDown, SmtpSender
from workflow.db import alembic_config
from workflow.faults import DATABASE_SETTING, database_problem, safe_url, sqlite_path
from workflow.scheduler import JOBS, heartbeat_limit, last_runs

app = typer.Typer(no_args_is_help=False)

#: The longest the doctor waits for an SMTP server to greet.
SMTP_TIMEOUT_SECONDS = 5.0
START_SCHEDULER = (
    "start the scheduler (`gnlc serve`, `gnlc scheduler` or `python run_scheduler.py`) "
    "or look at its log"
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str


def run_checks(now: datetime | None = None) -> list[Check]:
    """Every check, in order; later ones are skipped when what they need is missing."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        return [Check("configuration", False, f"{exc}; fix that setting and run again")]
    checks = [Check("configuration", True, "the settings load and are valid")]
    moment = now or datetime.now(UTC)
    with _database(settings) as (engine, problem):
        if engine is None:
            checks.append(Check("database", False, problem))
        else:
            checks.extend(_database_checks(engine, settings, moment))
    checks.append(_sender(settings))
    checks.append(_secret_key(settings))
    checks.append(_uploads(settings))
    return checks


@contextmanager
def _database(settings: Settings) -> Iterator[tuple[Engine | None, str]]:
    """An engine that can only read what is there: never ``make_engine`` (it creates a
    SQLite file's folder) nor ``ensure_schema`` (it migrates)."""
    url = settings.database.url
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        yield (
            None,
            (
                f"the SQLite file {path} does not exist: create it with `gnlc db upgrade`, "
                f"or point {DATABASE_SETTING} at the right file"
            ),
        )
        return
    try:
        if path is not None:
            engine = create_engine(f"sqlite:///file:{path.resolve()}?mode=ro&uri=true")
        else:
            engine = create_engine(url, connect_args={"connect_timeout": 5})
        with engine.connect():
            pass
    except (SQLAlchemyError, OSError, ImportError) as exc:
        yield None, database_problem(exc, url) or f"{type(exc).__name__}: {exc}"
        return
    try:
        yield engine, ""
    finally:
        engine.dispose()


def _database_checks(engine: Engine, settings: Settings, now: datetime) -> list[Check]:
    url = settings.database.url
    checks = [Check("database", True, f"{safe_url(url)} answers")]
    path = sqlite_path(url)
    if path is not None:
        folder = _writable(path.resolve().parent)
        if folder is not None:
            checks[0] = Check(
                "database",
                False,
                f"the SQLite file {path} opens, but its folder cannot be written ({folder}): "
                "make the file and its folder writable",
            )
    schema = _schema(engine, url)
    checks.append(schema)
    if not schema.ok:
        return checks
    with Session(engine) as session:
        checks.append(_scheduler(session, settings, now))
        checks.append(_outbox(session))
    return checks


def _schema(engine: Engine, url: str) -> Check:
    try:
        script = ScriptDirectory.from_config(alembic_config(url))
        heads = set(script.get_heads())
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except (SQLAlchemyError, CommandError) as exc:
        return Check("schema", False, database_problem(exc, url) or str(exc))
    if current == heads:
        return Check("schema", True, f"current (migration {', '.join(sorted(heads))})")
    if not current:
        return Check(
            "schema", False, "the database has no schema yet: create it with `gnlc db upgrade`"
        )
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = sorted(current - known)
    if unknown:
        return Check(
            "schema",
            False,
            f"the database is at migration {', '.join(unknown)}, which this version of gnlc "
            "does not know: run the newer gnlc, or restore a backup made for this one",
        )
    missing = []
    for head in heads:
        for rev in script.iterate_revisions(head, tuple(current)):
            if rev.revision not in current:
                missing.append(f"{rev.revision} ({(rev.doc or '').strip().rstrip('.')})")
    return Check(
        "schema",
        False,
        f"{how_many(len(missing), 'migration', 'migrations')} missing: "
        f"{'; '.join(reversed(missing))}: run `gnlc db upgrade`",
    )


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172_800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86_400} days ago"


def _scheduler(session: Session, settings: Settings, now: datetime) -> Check:
    if not inspect(session.get_bind()).has_table("heartbeats"):
        return Check("scheduler", False, "no heartbeats table: run `gnlc db upgrade`")
    runs = last_runs(session)
    if not runs:
        return Check("scheduler", False, f"the scheduler has never run here: {START_SCHEDULER}")
    parts = []
    problems = []
    for name in JOBS:
        beat = runs.get(name)
        if beat is None:
            problems.append(f"no {name} has run yet")
            continue
        age = now - beat.at
        parts.append(f"last {name} {_ago(age)} (took {beat.duration_seconds:.1f} s)")
        if age > heartbeat_limit(settings, name):
            limit = int(heartbeat_limit(settings, name).total_seconds())
            problems.append(f"no {name} for {_ago(age).removesuffix(' ago')} (limit {limit} s)")
    if problems:
        return Check("scheduler", False, f"{'; '.join(problems)}: {START_SCHEDULER}")
    return Check("scheduler", True, "; ".join(parts))


def _outbox(session: Session) -> Check:
    m = OutboxMessage
    query = select(m.status, func.count()).group_by(m.status)
    counts: dict[str, int] = {status: count for status, count in session.execute(query)}
    dead = counts.get(Status.DEAD, 0)
    waiting = sum(counts.get(s, 0) for s in (Status.PENDING, Status.FAILED, Status.SENDING))
    if dead:
        return Check(
            "outbox",
            False,
            f"{how_many(dead, 'dead letter', 'dead letters')}, never delivered: "
            "see `gnlc outbox list --status dead`, "
            "fix the address or the server, then `gnlc outbox retry ID` (or `discard ID`)",
        )
    waits = how_many(waiting, "message", "messages")
    return Check("outbox", True, f"no dead letters; {waits} waiting to be sent")


def _writable(folder: Path) -> str | None:
    """``None`` when a file can be written in ``folder`` (tried: permissions, read-only
    mounts and files in the way all show only then), else what stopped it."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".gnlc-doctor-"):
            pass
    except OSError as exc:
        return f"{exc.strerror or exc}: {exc.filename or folder}"
    return None


def _folder(path: Path, label: str, setting: str) -> tuple[bool, str]:
    """Whether ``path`` is (or can become) a writable folder, and what to say."""
    if path.exists():
        if not path.is_dir():
            return False, f"{label} {path} is a file, not a folder: move it, or change {setting}"
        problem = _writable(path)
        if problem is not None:
            return False, f"{label} {path} is not writable ({problem}): make it writable"
        return True, f"{label} {path} is writable"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return False, (
            f"{label} {path} cannot be made: {parent} is a file, not a folder; "
            f"move it, or change {setting}"
        )
    problem = _writable(parent)
    if problem is not None:
        return False, f"{label} {path} cannot be made: {parent} is not writable ({problem})"
    return True, f"{label} {path} does not exist yet; it is made on first use"


def _sender(settings: Settings) -> Check:
    if settings.mail.sender == "maildir":
        path = Path(settings.mail.maildir)
        ok, message = _folder(path, "the Maildir", "[mail] maildir (GNLC_MAIL__MAILDIR)")
        return Check("sender", ok, message)
    smtp = settings.smtp.model_copy(
        update={"timeout_seconds": min(settings.smtp.timeout_seconds, SMTP_TIMEOUT_SECONDS)}
    )
    sender = SmtpSender(smtp, settings.mail.from_address, pool_size=1)
    try:
        greeting = asyncio.run(sender.check())
    except SenderDown as exc:
        return Check("sender", False, str(exc))
    return Check("sender", True, f"the SMTP server {smtp.host}:{smtp.port} answers: {greeting}")


def _secret_key(settings: Settings) -> Check:
    from config.paths import demo_key_file
    from web.sessions import PLACEHOLDER_KEY, key_problem

    key = settings.web.secret_key.get_secret_value()
    problem = key_problem(key)
    if problem is None:
        return Check("secret key", True, f"set ({len(key)} characters)")
    if settings.web.demo_data and (not key.strip() or key == PLACEHOLDER_KEY):
        return Check(
            "secret key",
            True,
            f"demo mode: the demo's own random key ({demo_key_file(settings)}) signs the "
            "sessions; set [web] secret_key before you turn demo_data off",
        )
    return Check(
        "secret key",
        False,
        f"[web] secret_key {problem}: set GNLC_WEB__SECRET_KEY to the key that `gnlc secret` "
        "prints (the portal refuses to start without one)",
    )


def _uploads(settings: Settings) -> Check:
    from config.paths import uploads_folder

    ok, message = _folder(
        uploads_folder(settings), "the uploads folder", "[mail] maildir (uploads live beside it)"
    )
    return Check("uploads", ok, message)


@app.command("doctor")
def doctor(as_json: JsonOption = False) -> None:
    """Check the settings, database, schema, sender, secret key, uploads folder and
    scheduler; say what is wrong and how to fix it. Exit code 1 when a check failed."""
    state = cli_state()
    checks = run_checks(state.now() if state.now_override else None)
    failed = [c for c in checks if not c.ok]
    if state.wants_json(as_json):
        emit_json({"ok": not failed, "checks": [asdict(c) for c in checks]})
    else:
        for c in checks:
            mark = "[green]ok[/green]     " if c.ok else "[red]problem[/red]"
            console.print(f"{mark} {c.name}: {escape(c.message)}", highlight=False, soft_wrap=True)
        if failed:
            console.print(f"{how_many(len(failed), 'problem', 'problems')} found.", highlight=False)
    if failed:
        raise typer.Exit(1)
