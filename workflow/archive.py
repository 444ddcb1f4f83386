"""The backup archive shared by backup and restore: its members, its errors, its helpers.

A backup is one ``.tar.gz`` file: one thing to copy off the machine, to rotate and to
check, written under a temporary name and renamed when complete (a crash never leaves a
half archive under the final name). It holds::

    manifest.json            what is inside: version, date, database kind, schema
                             revision, row count of every table, checksum of every file
    database/gnlc.sqlite3    SQLite: a consistent copy (the sqlite3 backup API, safe
                             while the portal runs), or
    database/gnlc.pgdump     PostgreSQL: ``pg_dump --format=custom`` of the same snapshot
                             the row counts were taken in
    uploads/...              the uploads folder (signed forms)
    config/operator.toml     the operator file named by GNLC_CONFIG, if any
    config/settings.json     the effective settings
    secret_key               the demo's own key file, if present

``workflow.backup`` writes an archive, ``workflow.restore`` checks and applies one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import URL, make_url

from config import Settings
from config.paths import demo_key_file

FORMAT = "gnlc-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/gnlc.sqlite3"
PG_MEMBER = "database/gnlc.pgdump"
OPERATOR_MEMBER = "config/operator.toml"
SETTINGS_MEMBER = "config/settings.json"
KEY_MEMBER = "secret_key"
UPLOADS_PREFIX = "uploads/"
MASK = "(left out of the backup)"
KIND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is one line saying what to do."""


def database_kind(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in KIND_NAMES:
        raise BackupError(f"database.url: a {backend} database cannot be backed up here.")
    return backend


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


# --- helpers ------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def key_fingerprint(key: str) -> str | None:
    """A short, salted fingerprint of a secret key: tells two keys apart, reveals neither."""
    if not key:
        return None
    return hashlib.sha256(b"gnlc-backup-key-fingerprint\0" + key.encode()).hexdigest()[:16]


def key_in_use(settings: Settings) -> str:
    """The configured key, or else the demo's key file (as the demo uses it)."""
    configured = settings.web.secret_key.get_secret_value()
    if configured:
        return configured
    path = demo_key_file(settings)
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def count_rows(conn: Connection) -> tuple[str | None, dict[str, int], list[str]]:
    """The schema revision, the row count of every table and the stored names of the
    current signed forms, read in ``conn``'s transaction."""
    names = sorted(inspect(conn).get_table_names())
    quote = conn.dialect.identifier_preparer.quote
    revision: str | None = None
    if "alembic_version" in names:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    counts = {
        name: int(conn.execute(text(f"SELECT count(*) FROM {quote(name)}")).scalar_one())
        for name in names
        if name != "alembic_version"
    }
    referenced: list[str] = []
    if "applications" in names:
        referenced = [
            str(value)
            for value in conn.execute(
                text("SELECT signed_form FROM applications WHERE signed_form IS NOT NULL")
            ).scalars()
            if value
        ]
    return revision, counts, referenced


def first_line(exc: BaseException) -> str:
    message = str(getattr(exc, "orig", None) or exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


# --- PostgreSQL tools ---------------------------------------------------------------


def find_pg_tool(name: str) -> str:
    """``pg_dump`` or ``pg_restore``: on PATH, else the newest /usr/lib/postgresql/N/bin."""
    found = shutil.which(name)
    if found:
        return found

    def version(path: Path) -> int:
        try:
            return int(path.parent.parent.name)
        except ValueError:
            return 0

    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=version)
    if candidates:
        return str(candidates[-1])
    raise BackupError(
        f"{name} is not installed (not on PATH, not in /usr/lib/postgresql/*/bin): install "
        "the PostgreSQL client programs of your server's version (Debian: apt install "
        "postgresql-client-15) and try again."
    )


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for the SQLAlchemy ``url`` (no password in it, so none in
    the process list) and the environment that carries the password."""
    parsed: URL = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    uri = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def run_pg(tool: str, args: list[str], url: str, doing: str) -> None:
    uri, env = _libpq(url)
    command = [find_pg_tool(tool), f"--dbname={uri}", "--no-password", *args]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BackupError(
            f"{tool} could not start ({exc.strerror}); check its installation."
        ) from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        detail = next((line for line in lines if "error" in line.lower()), None)
        detail = detail or (lines[-1] if lines else f"exit code {done.returncode}")
        raise BackupError(f"{doing} failed: {detail}")


def upload_files(folder: Path) -> Iterator[tuple[str, Path]]:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.endswith(".part"):
            yield path.relative_to(folder).as_posix(), path


def same_files(folder: Path, other: Path) -> bool:
    """True when ``folder`` holds exactly the files of ``other``, byte for byte."""
    mine = dict(upload_files(folder))
    theirs = dict(upload_files(other))
    if mine.keys() != theirs.keys():
        return False
    return all(sha256_of(mine[name]) == sha256_of(theirs[name]) for name in mine)


def describe_tables(tables: Mapping[str, int]) -> str:
    """``12 rows in 16 tables (applications 2, audit_events 7, ...)``, empty ones left out."""
    rows = sum(tables.values())
    filled = ", ".join(f"{name} {count}" for name, count in sorted(tables.items()) if count)
    return f"{rows} rows in {len(tables)} tables" + (f" ({filled})" if filled else "")
