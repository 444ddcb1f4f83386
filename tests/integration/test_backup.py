"""``gnlc backup`` and ``gnlc restore`` on SQLite and PostgreSQL: the round trip brings
back every row, the audit log and the uploaded files exactly; a fresh, empty database
takes a restore; refusals (wrong kind, data present, damaged archive, unknown schema)
are one line, exit code 1, and change nothing."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, select, text
from typer.testing import CliRunner

from cli.main import app
from config.paths import uploads_folder
from tests.conftest import ADMIN, PG_ADMIN_URL, World, utc
from workflow.db import transaction
from workflow.services import applications as apps
from workflow.services import directory, submissions
from workflow.uploads import store_signed_form

IN_2027 = utc(2027, 3, 2, 9)
PDF = b"%PDF-1.4\n% the signed form of Jelgava\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
LV = World.commission("LV")
Snapshot = dict[str, list[tuple[Any, ...]]]


def snapshot(url: str) -> Snapshot:
    """Every row of every table (the schema's version included), in primary-key order."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            meta = MetaData()
            meta.reflect(conn)
            rows: Snapshot = {}
            for name, table in sorted(meta.tables.items()):
                order = list(table.primary_key.columns) or list(table.columns)
                rows[name] = [tuple(row) for row in conn.execute(select(table).order_by(*order))]
            return rows
    finally:
        engine.dispose()


def cli(url: str, maildir: Path, **extra: str | None) -> CliRunner:
    env: dict[str, str | None] = {
        "GNLC_DATABASE__URL": url,
        "GNLC_MAIL__MAILDIR": str(maildir),
        "GNLC_CONFIG": None,
        "GNLC_WEB__SECRET_KEY": None,
    }
    return CliRunner(env={**env, **extra})


def invoke(runner: CliRunner, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (args, result.output)
    assert "Traceback" not in result.output
    return result.output


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def made(world: World, tmp_path: Path) -> World:
    """Two applications (one submitted with its signed form), their audit trail and mail."""
    jelgava = world.city("Jelgava")
    with transaction(world.factory) as session:
        draft = apps.create_draft(
            session,
            world.settings,
            jelgava,
            now=IN_2027,
            motivation="Learning for all ages in every district.",
            implementation_plan="Map providers; open learning festivals; monitor yearly.",
            challenges=dict.fromkeys(apps.CHALLENGES, 3),
            signed_by="The Mayor",
        )
        store_signed_form(
            session,
            world.settings,
            jelgava,
            draft.id,
            filename="signed.pdf",
            data=PDF,
            folder=uploads_folder(world.settings),
            now=IN_2027,
        )
        submissions.submit(session, world.settings, jelgava, draft.id, now=IN_2027)
    world.draft("Lyon", IN_2027, signed=False)
    return world


def the_upload(world: World) -> Path:
    files = [p for p in uploads_folder(world.settings).iterdir() if p.suffix == ".pdf"]
    assert len(files) == 1
    return files[0]


@pytest.fixture
def second_database(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A database that does not hold anything yet, of the same kind as ``db_url``."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh' / 'gnlc.db'}"
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"gnlc_restore_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_round_trip_brings_back_rows_audit_log_and_uploads(
    made: World, db_url: str, tmp_path: Path
) -> None:
    maildir = Path(made.settings.mail.maildir)
    runner = cli(db_url, maildir)
    before = snapshot(db_url)
    assert len(before["audit_events"]) >= 4 and before["outbox"]
    assert len(before["uploaded_files"]) == 1
    upload = the_upload(made)
    out = invoke(runner, "backup", str(tmp_path / "b.tar.gz"))
    assert "Backup written" in out and "1 file," in out

    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    kind = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    assert manifest["database"]["kind"] == kind
    assert manifest["database"]["revision"] == before["alembic_version"][0][0]
    assert manifest["database"]["tables"]["audit_events"] == len(before["audit_events"])
    assert manifest["files"][f"uploads/{upload.name}"]["size"] == len(PDF)

    # Life goes on after the backup: more work, more audit and mail, the upload lost.
    with transaction(made.factory) as session:
        submissions.endorse(session, made.settings, LV, before["applications"][0][0], now=IN_2027)
    made.draft("Tartu", IN_2027)
    upload.unlink()
    stray = uploads_folder(made.settings) / "9-stray.pdf"
    stray.write_bytes(b"%PDF-later")
    assert snapshot(db_url) != before

    out = invoke(runner, "restore", str(tmp_path / "b.tar.gz"), "--force")
    assert "Restored" in out and "gnlc db status" in out
    after = snapshot(db_url)
    assert after == before
    assert after["audit_events"] == before["audit_events"]
    assert upload.read_bytes() == PDF
    assert not stray.exists()
    # What was in the uploads folder is set aside, not destroyed.
    (aside,) = uploads_folder(made.settings).parent.glob("uploads.before-restore-*")
    assert (aside / "9-stray.pdf").read_bytes() == b"%PDF-later"
    assert "before-restore" in out
    # The restored database keeps working: the audit log still refuses changes, new
    # work continues the numbering.
    invoke(runner, "db", "status")
    with pytest.raises(Exception, match="append-only"), transaction(made.factory) as session:
        session.execute(text("DELETE FROM audit_events"))
    made.draft("Tartu", IN_2027)


def test_restore_into_a_fresh_empty_database(
    made: World, db_url: str, second_database: str, tmp_path: Path
) -> None:
    before = snapshot(db_url)
    upload = the_upload(made)
    maildir = Path(made.settings.mail.maildir)
    invoke(cli(db_url, maildir), "backup", str(tmp_path))  # a folder: a dated archive in it
    (written,) = tmp_path.glob("gnlc-backup-*.tar.gz")

    fresh_mail = tmp_path / "fresh" / "mail"
    out = invoke(cli(second_database, fresh_mail), "restore", str(written))
    assert "Restored" in out
    assert snapshot(second_database) == before
    assert (tmp_path / "fresh" / "uploads" / upload.name).read_bytes() == PDF
    assert "before-restore" not in out
    if not second_database.startswith("sqlite"):
        # A dump has no planner statistics: the restore gathers them (ANALYZE), or the
        # first sweep would plan nested loops over tables taken for a few rows.
        engine = create_engine(second_database)
        with engine.connect() as conn:
            analysed = set(
                conn.scalars(
                    text("SELECT DISTINCT tablename FROM pg_stats WHERE schemaname = 'public'")
                )
            )
        engine.dispose()
        filled = {name for name, rows in before.items() if rows}
        assert filled and filled <= analysed, filled - analysed


def test_refuses_a_database_with_data_without_force(
    made: World, db_url: str, tmp_path: Path
) -> None:
    runner = cli(db_url, Path(made.settings.mail.maildir))
    invoke(runner, "backup", str(tmp_path / "b.tar.gz"))
    made.draft("Tartu", IN_2027)
    changed = snapshot(db_url)
    out = invoke(runner, "restore", str(tmp_path / "b.tar.gz"), code=1)
    line = one_error_line(out)
    assert "not empty" in line and "--force" in line
    assert snapshot(db_url) == changed


def test_refuses_a_backup_of_the_other_kind(made: World, db_url: str, tmp_path: Path) -> None:
    invoke(cli(db_url, Path(made.settings.mail.maildir)), "backup", str(tmp_path / "b.tar.gz"))
    if db_url.startswith("sqlite"):
        other, expected = "postgresql+psycopg://nobody@/gnlc_nowhere", "SQLite database"
    else:
        other, expected = f"sqlite:///{tmp_path / 'other.db'}", "PostgreSQL database"
    out = invoke(cli(other, tmp_path / "m2"), "restore", str(tmp_path / "b.tar.gz"), code=1)
    line = one_error_line(out)
    assert f"holds a {expected}" in line and "database.url" in line
    assert not (tmp_path / "other.db").exists()


def rewrite(src: Path, dest: Path, change: Any) -> None:
    """A copy of the archive ``src`` with ``change(name, data) -> data`` applied."""
    with tarfile.open(src) as old, tarfile.open(dest, "w:gz") as new:
        for member in old:
            handle = old.extractfile(member)
            assert handle is not None
            data = change(member.name, handle.read())
            member.size = len(data)
            new.addfile(member, io.BytesIO(data))


def test_damaged_and_foreign_archives_are_refused_and_change_nothing(
    made: World, db_url: str, tmp_path: Path
) -> None:
    runner = cli(db_url, Path(made.settings.mail.maildir))
    good = tmp_path / "b.tar.gz"
    invoke(runner, "backup", str(good))
    upload = the_upload(made)
    upload.unlink()
    state = snapshot(db_url)

    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    flipped = tmp_path / "flipped.tar.gz"
    rewrite(
        good,
        flipped,
        lambda name, data: data.replace(b"Jelgava", b"Jelgavb") if "up" in name else data,
    )
    future = tmp_path / "future.tar.gz"

    def newer_schema(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["database"]["revision"] = "9999"
        return json.dumps(manifest).encode()

    rewrite(good, future, newer_schema)
    not_gzip = tmp_path / "notes.tar.gz"
    not_gzip.write_text("shopping list\n")

    cases = {
        truncated: "damaged",
        flipped: "does not match its checksum",
        future: "schema 9999",
        not_gzip: "not a usable gnlc backup",
        tmp_path / "missing.tar.gz": "no backup file",
    }
    for path, expected in cases.items():
        out = invoke(runner, "restore", str(path), "--force", code=1)
        assert expected in one_error_line(out), (path.name, out)
    assert snapshot(db_url) == state
    assert not upload.exists()  # nothing was restored from a bad archive
    assert not list(tmp_path.glob("*/.gnlc-restore-*"))  # no staging left behind


def test_backup_while_a_writer_is_mid_transaction_holds_the_committed_state(
    made: World, db_url: str, tmp_path: Path
) -> None:
    committed = snapshot(db_url)
    with made.factory() as session, session.begin():
        directory.upsert_country(
            session,
            ADMIN,
            code="LT",
            name="Lithuania",
            commission_name="Lithuanian National Commission for UNESCO",
            commission_email="unesco@unesco.lt",
            language="en",
            timezone="Europe/Vilnius",
            now=IN_2027,
        )
        session.flush()  # holds the write lock (SQLite) / the new row (PostgreSQL)
        invoke(cli(db_url, Path(made.settings.mail.maildir)), "backup", str(tmp_path / "b.tar.gz"))
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest["database"]["tables"]["countries"] == len(committed["countries"])
    assert {row[0] for row in snapshot(db_url)["countries"]} >= {"LT"}


def test_configuration_secrets_are_masked_unless_asked_and_the_key_file_comes_back(
    sqlite_url: str, tmp_path: Path
) -> None:
    operator = tmp_path / "gnlc.toml"
    operator.write_text(
        '[smtp]\nhost = "smtp.example.org"\npassword = "smtp-pass-123456"\n\n'
        '[web]\nsecret_key = "k3y-0f-the-operator-0123456789abcdef"\n',
        encoding="utf-8",
    )
    maildir = tmp_path / "mail"
    demo_key = tmp_path / "secret_key"
    demo_key.write_text("the-demo-key-made-on-first-run\n")
    runner = cli(sqlite_url, maildir, GNLC_CONFIG=str(operator))
    invoke(runner, "backup", str(tmp_path / "masked.tar.gz"))
    invoke(runner, "backup", "--include-secrets", str(tmp_path / "full.tar.gz"))

    def member(path: Path, name: str) -> str:
        with tarfile.open(path) as tar:
            handle = tar.extractfile(name)
            assert handle is not None
            return handle.read().decode()

    masked = member(tmp_path / "masked.tar.gz", "config/operator.toml")
    assert "smtp.example.org" in masked
    assert "smtp-pass-123456" not in masked and "k3y-0f-the-operator" not in masked
    effective = json.loads(member(tmp_path / "masked.tar.gz", "config/settings.json"))
    assert effective["smtp"]["host"] == "smtp.example.org"
    assert "smtp-pass-123456" not in json.dumps(effective)
    assert "k3y-0f-the-operator" not in json.dumps(effective)
    full = json.loads(member(tmp_path / "full.tar.gz", "config/settings.json"))
    assert full["web"]["secret_key"] == "k3y-0f-the-operator-0123456789abcdef"
    assert "smtp-pass-123456" in member(tmp_path / "full.tar.gz", "config/operator.toml")

    demo_key.unlink()
    out = invoke(runner, "restore", "--force", str(tmp_path / "masked.tar.gz"))
    assert demo_key.read_text() == "the-demo-key-made-on-first-run\n"
    assert oct(demo_key.stat().st_mode & 0o777) == "0o600"
    assert "secret key differs" not in out
    # Another key configured now: the restore says everyone signs in again, and how to avoid it.
    other = cli(sqlite_url, maildir, GNLC_WEB__SECRET_KEY="a-different-key-" + "x" * 32)
    out = invoke(other, "restore", "--force", str(tmp_path / "full.tar.gz"))
    assert "secret key differs" in out and "sign in again" in out


def test_the_gnlc_script_refuses_in_one_line(sqlite_url: str, tmp_path: Path) -> None:
    gnlc = Path(sys.executable).with_name("gnlc")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GNLC_")},
        "GNLC_DATABASE__URL": sqlite_url,
        "GNLC_MAIL__MAILDIR": str(tmp_path / "mail"),
    }
    written = subprocess.run(
        [str(gnlc), "backup", str(tmp_path / "b.tar.gz")], env=env, capture_output=True, text=True
    )
    assert written.returncode == 0, written.stderr
    again = subprocess.run(
        [str(gnlc), "backup", str(tmp_path / "b.tar.gz")], env=env, capture_output=True, text=True
    )
    assert again.returncode == 1
    assert again.stderr.strip().startswith("error: ") and len(again.stderr.splitlines()) == 1
    assert "already exists" in again.stderr
    # The archive is whole: a restore of it checks every file.
    restored = subprocess.run(
        [str(gnlc), "restore", "--force", str(tmp_path / "b.tar.gz")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert restored.returncode == 0, restored.stderr
    assert "Restored" in restored.stdout and "Traceback" not in restored.stderr


def test_restore_ends_every_session_open_at_backup_time(
    made: World, db_url: str, tmp_path: Path
) -> None:
    """A sign-in ended after the backup (signed out, password changed) must not come back
    to life with the restore: the restore ends every session and API token."""
    from web import sessions
    from workflow.models import User

    with transaction(made.factory) as session:
        user = User(
            email="officer@unesco.lv",
            name="Officer",
            role="commission",
            country_code="LV",
            password_hash="$argon2id$set",
            created_at=IN_2027,
        )
        session.add(user)
        session.flush()
        token = sessions.start(session, made.settings, user.id, sessions.API, now=IN_2027).token
    with transaction(made.factory) as session:
        assert sessions.look_up(session, made.settings, token, sessions.API, now=IN_2027)
    runner = cli(db_url, Path(made.settings.mail.maildir))
    invoke(runner, "backup", str(tmp_path / "b.tar.gz"))
    with transaction(made.factory) as session:  # the user signs out after the backup
        sessions.revoke(session, token, now=IN_2027)

    out = invoke(runner, "restore", str(tmp_path / "b.tar.gz"), "--force")
    assert "everyone signs in again" in out
    with transaction(made.factory) as session:
        assert sessions.look_up(session, made.settings, token, sessions.API, now=IN_2027) is None
