"""Faults an operator can cause, met by the real processes: one line, a non-zero exit,
never a traceback; the Maildir that cannot be written and then can; an SMTP server that
is down while the scheduler keeps running; heartbeats; and ``gnlc doctor``.

Root ignores file permissions, so an unwritable folder is made the way that stops root
too: its path runs through a regular file (``file/mail``: "Not a directory").
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cli.main import app
from config import Settings
from notifications.dispatcher import dispatch
from notifications.models import OutboxMessage
from notifications.outbox import Status
from tests.conftest import PG_ADMIN_URL, utc
from tests.integration.email.conftest import RecordingHandler, enqueue_many, free_port
from workflow.db import session_factory, transaction, upgrade
from workflow.models import Heartbeat
from workflow.scheduler import Clock, heartbeat_limit, run_once, sweep_job

ROOT = Path(__file__).resolve().parents[2]
GNLC = Path(sys.executable).parent / "gnlc"
SCHEDULER = ROOT / "run_scheduler.py"
NOW = utc(2027, 4, 1, 9)


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GNLC_")}
    env.update({"PYTHONPATH": str(ROOT), **values})
    return env


def blocked(tmp_path: Path, name: str = "mail") -> Path:
    """A path no one can create or write, root included: its parent is a regular file."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be\n")
    return blocker / name


COMMANDS = {
    "gnlc outbox list": [str(GNLC), "outbox", "list"],
    "gnlc scheduler --once": [str(GNLC), "scheduler", "--once"],
    "gnlc serve": [str(GNLC), "serve"],
    "run_scheduler.py --once": [sys.executable, str(SCHEDULER), "--once"],
}


def fault_url(kind: str, tmp_path: Path) -> tuple[str, str]:
    """A database URL with the fault ``kind``, and what its one line must say."""
    missing = f"gnlc_missing_{uuid.uuid4().hex[:8]}"
    return {
        "bad url": ("nonsense://nowhere", "not a database gnlc can use"),
        "missing database": (
            PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{missing}",
            f"database '{missing}' does not exist on localhost: create it with "
            f"`createdb {missing}`, or fix [database] url (GNLC_DATABASE__URL)",
        ),
        "server unreachable": (
            f"postgresql+psycopg://gnlc@127.0.0.1:{free_port()}/gnlc",
            "cannot reach the PostgreSQL server on 127.0.0.1:",
        ),
        "read-only var/": (
            f"sqlite:///{blocked(tmp_path, 'var')}/gnlc.db",
            "a file of that name is in the way",
        ),
    }[kind]


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize(
    "fault", ["bad url", "missing database", "server unreachable", "read-only var/"]
)
def test_a_database_fault_is_one_line_and_exit_1(command: str, fault: str, tmp_path: Path) -> None:
    url, said = fault_url(fault, tmp_path)
    env = clean_env(
        GNLC_DATABASE__URL=url,
        GNLC_MAIL__MAILDIR=str(tmp_path / "mail"),
        GNLC_WEB__PORT=str(free_port()),
    )
    done = subprocess.run(
        COMMANDS[command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert said in errors[0]


def test_a_read_only_sqlite_file_is_one_line(tmp_path: Path) -> None:
    """chattr +i stops root as well; skipped where the file system cannot do it."""
    path = tmp_path / "gnlc.db"
    upgrade(f"sqlite:///{path}")
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        env = clean_env(
            GNLC_DATABASE__URL=f"sqlite:///{path}", GNLC_MAIL__MAILDIR=str(tmp_path / "mail")
        )
        examples = ROOT / "docs" / "examples" / "countries.csv"
        done = subprocess.run(
            [str(GNLC), "import", "countries", str(examples)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"the SQLite file {path} is read-only" in done.stderr


def test_a_maildir_that_cannot_be_written_keeps_mail_pending_until_it_can(
    factory: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    maildir = blocked(tmp_path)
    broken = settings.with_overrides(mail={"maildir": str(maildir)})
    enqueue_many(factory, broken, 3, NOW)

    with caplog.at_level(logging.ERROR, logger="notifications.dispatcher"):
        result = dispatch(factory, broken, now=NOW, worker="t")
    assert (result.sent, result.retried, result.dead, result.waiting) == (0, 0, 0, 3)
    assert result.problem.startswith(f"Maildir {maildir} is not writable")
    lines = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(lines) == 1 and str(maildir) in lines[0].getMessage()
    assert lines[0].exc_info is None
    with factory() as session:
        rows = list(session.scalars(select(OutboxMessage)))
    assert {(r.status, r.attempts) for r in rows} == {(Status.PENDING, 0)}
    assert all(r.last_error.startswith(f"Maildir {maildir} is not writable") for r in rows)

    # The scheduler process says the same in one line and exits 1 with --once.
    env = clean_env(GNLC_DATABASE__URL=settings.database.url, GNLC_MAIL__MAILDIR=str(maildir))
    once = subprocess.run(
        [sys.executable, str(SCHEDULER), "--once", "--now", "2027-04-01T09:00:00Z"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert once.returncode == 1 and "Traceback" not in once.stderr
    assert f"mail is not going out: Maildir {maildir} is not writable" in once.stderr

    # Fixed: the file in the way is gone; the same mail goes out at the next pass.
    maildir.parent.unlink()
    again = dispatch(factory, broken, now=NOW + timedelta(seconds=15), worker="t")
    assert (again.sent, again.problem) == (3, "")
    assert len(list((maildir / "new").iterdir())) == 3
    with factory() as session:
        assert {(r.status, r.attempts) for r in session.scalars(select(OutboxMessage))} == {
            (Status.SENT, 1)
        }


@pytest.fixture
def smtp_port() -> int:
    return free_port()


def test_an_unreachable_smtp_server_is_one_line_and_the_scheduler_keeps_retrying(
    factory: sessionmaker[Session], settings: Settings, smtp_port: int
) -> None:
    enqueue_many(factory, settings, 2, NOW - timedelta(minutes=1))
    env = clean_env(
        GNLC_DATABASE__URL=settings.database.url,
        GNLC_MAIL__SENDER="smtp",
        GNLC_SMTP__HOST="127.0.0.1",
        GNLC_SMTP__PORT=str(smtp_port),
        GNLC_SMTP__TIMEOUT_SECONDS="5",
        GNLC_SCHEDULER__DISPATCH_INTERVAL_SECONDS="1",
        GNLC_DISPATCHER__BACKOFF_BASE_SECONDS="0",
    )
    said = f"the SMTP server 127.0.0.1:{smtp_port} cannot be reached"
    once = subprocess.run(
        [sys.executable, str(SCHEDULER), "--once", "--now", "2027-04-01T09:00:00Z"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert once.returncode == 1 and "Traceback" not in once.stderr, once.stderr
    assert said in once.stderr and "start it, or check [smtp] host, port" in once.stderr

    # Running on: it says so, stays up, and delivers once the server answers.
    handler = RecordingHandler()
    process = subprocess.Popen(
        [sys.executable, str(SCHEDULER), "--now", "2027-04-01T09:05:00Z"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    controller = None
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if said in line:
                break
        assert process.poll() is None  # still running after the fault
        controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        deadline = time.monotonic() + 60
        while len(handler.snapshot()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(handler.snapshot()) == 2
    finally:
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
        if controller is not None:
            controller.stop()
    assert process.returncode == 0 and "Traceback" not in rest


def test_a_database_fault_in_a_running_job_is_one_logged_line(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(f"postgresql+psycopg://gnlc@127.0.0.1:{free_port()}/gnlc")
    down = settings.with_overrides(database={"url": str(engine.url)})
    with caplog.at_level(logging.ERROR, logger="gnlc.scheduler"):
        assert sweep_job(session_factory(engine), down, Clock())() is None
    engine.dispose()
    (record,) = caplog.records
    assert record.exc_info is None
    assert "sweep failed: cannot reach the PostgreSQL server on 127.0.0.1:" in record.getMessage()


def test_each_run_writes_its_heartbeat(factory: sessionmaker[Session], settings: Settings) -> None:
    enqueue_many(factory, settings, 2, NOW)
    before = datetime.now(UTC)
    report, result = run_once(factory, settings, now=NOW)
    run_once(factory, settings, now=NOW + timedelta(minutes=5))
    after = datetime.now(UTC)
    with factory() as session:
        runs = {h.name: h for h in session.scalars(select(Heartbeat))}
    assert set(runs) == {"sweep", "dispatch"}  # one row each, upserted
    assert all(before <= h.at <= after for h in runs.values())
    assert result is not None and result.sent == 2
    assert json.loads(runs["dispatch"].detail)["sent"] == 0  # the second pass
    assert json.loads(runs["sweep"].detail)["errors"] == len(report.errors)


# gnlc doctor


def doctor(env: dict[str, str]) -> tuple[int, dict[str, dict[str, object]]]:
    result = CliRunner(env=env).invoke(app, ["doctor", "--json"])
    data = json.loads(result.stdout)
    return result.exit_code, {c["name"]: c for c in data["checks"]}


def doctor_env(settings: Settings, **values: str) -> dict[str, str]:
    base = {
        "GNLC_DATABASE__URL": settings.database.url,
        "GNLC_MAIL__MAILDIR": settings.mail.maildir,
        "GNLC_MAIL__SENDER": "maildir",
        "GNLC_WEB__DEMO_DATA": "true",
        "GNLC_WEB__SECRET_KEY": "",
    }
    return {**base, **values}


def test_doctor_on_a_healthy_set_up(factory: sessionmaker[Session], settings: Settings) -> None:
    run_once(factory, settings, now=NOW)  # a scheduler pass: fresh heartbeats
    code, checks = doctor(doctor_env(settings))
    assert code == 0, checks
    assert all(c["ok"] for c in checks.values())
    assert set(checks) == {
        "configuration", "database", "schema", "scheduler", "outbox", "sender",
        "secret key", "uploads",
    }  # fmt: skip
    assert "demo mode" in str(checks["secret key"]["message"])

    key = "k" * 48
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        code, checks = doctor(
            doctor_env(
                settings,
                GNLC_MAIL__SENDER="smtp",
                GNLC_SMTP__HOST="127.0.0.1",
                GNLC_SMTP__PORT=str(port),
                GNLC_WEB__DEMO_DATA="false",
                GNLC_WEB__SECRET_KEY=key,
            )
        )
    finally:
        controller.stop()
    assert code == 0, checks
    assert str(checks["sender"]["message"]).startswith(f"the SMTP server 127.0.0.1:{port} answers")
    assert checks["secret key"]["message"] == "set (48 characters)"


def test_doctor_names_each_problem_and_how_to_fix_it(
    factory: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    run_once(factory, settings, now=NOW)
    with transaction(factory) as session:
        limit = heartbeat_limit(settings, "sweep")
        session.execute(
            update(Heartbeat)
            .where(Heartbeat.name == "sweep")
            .values(at=datetime.now(UTC) - limit - timedelta(hours=1))
        )
    enqueue_many(factory, settings, 1, NOW)
    with transaction(factory) as session:
        session.execute(update(OutboxMessage).values(status=Status.DEAD))
    code, checks = doctor(
        doctor_env(
            settings,
            GNLC_MAIL__MAILDIR=str(blocked(tmp_path)),
            GNLC_WEB__DEMO_DATA="false",
            GNLC_WEB__SECRET_KEY="change-me-in-production-this-is-only-for-the-demo",
        )
    )
    assert code == 1
    failed = {name for name, c in checks.items() if not c["ok"]}
    assert failed == {"scheduler", "outbox", "sender", "secret key", "uploads"}
    assert "no sweep for" in str(checks["scheduler"]["message"])
    assert "start the scheduler" in str(checks["scheduler"]["message"])
    assert "1 dead letter," in str(checks["outbox"]["message"])
    assert "is a file, not a folder" in str(checks["sender"]["message"])
    assert "placeholder" in str(checks["secret key"]["message"])
    assert "gnlc secret" in str(checks["secret key"]["message"])

    port = free_port()
    code, checks = doctor(
        doctor_env(settings, GNLC_MAIL__SENDER="smtp", GNLC_SMTP__HOST="127.0.0.1",
                   GNLC_SMTP__PORT=str(port))
    )  # fmt: skip
    assert code == 1
    assert f"the SMTP server 127.0.0.1:{port} cannot be reached" in str(checks["sender"]["message"])


def test_doctor_never_creates_or_migrates_a_database(tmp_path: Path) -> None:
    absent = tmp_path / "var" / "gnlc.db"
    code, checks = doctor({"GNLC_DATABASE__URL": f"sqlite:///{absent}",
                           "GNLC_MAIL__MAILDIR": str(tmp_path / "var" / "mail")})  # fmt: skip
    assert code == 1
    assert "does not exist: create it with `gnlc db upgrade`" in str(checks["database"]["message"])
    assert not absent.parent.exists()

    behind = tmp_path / "behind.db"
    upgrade(f"sqlite:///{behind}", "0004")
    code, checks = doctor({"GNLC_DATABASE__URL": f"sqlite:///{behind}",
                           "GNLC_MAIL__MAILDIR": str(tmp_path / "mail")})  # fmt: skip
    assert code == 1
    message = str(checks["schema"]["message"])
    assert "migrations missing: 0005" in message
    assert "0006" in message  # every missing migration is named, not only the first
    assert "run `gnlc db upgrade`" in str(checks["schema"]["message"])
    engine = create_engine(f"sqlite:///{behind}")
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT version_num FROM alembic_version")) == "0004"
    engine.dispose()


@pytest.fixture
def empty_pg_database() -> Iterator[str]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            name = f"gnlc_empty_{uuid.uuid4().hex[:8]}"
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server here
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({type(exc).__name__})")
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.postgres
def test_doctor_on_postgresql_without_schema_leaves_it_so(
    empty_pg_database: str, tmp_path: Path
) -> None:
    env = {"GNLC_DATABASE__URL": empty_pg_database, "GNLC_MAIL__MAILDIR": str(tmp_path / "m")}
    code, checks = doctor(env)
    assert code == 1
    assert checks["database"]["ok"]
    assert "no schema yet: create it with `gnlc db upgrade`" in str(checks["schema"]["message"])
    engine = create_engine(empty_pg_database)
    with engine.connect() as connection:
        tables = connection.scalar(
            text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        )
    engine.dispose()
    assert tables == 0

    missing = empty_pg_database + "_gone"
    code, checks = doctor({**env, "GNLC_DATABASE__URL": missing})
    assert code == 1
    assert f"database '{missing.rsplit('/', 1)[1]}' does not exist" in str(
        checks["database"]["message"]
    )
