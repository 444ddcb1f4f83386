"""Backup and restore: the database, the uploaded files and the configuration, in one archive.

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

Secrets (the SMTP password, ``web.secret_key``, a password in the database URL) are
masked in the configuration copies unless the backup is made with ``include_secrets``.
A restore never applies configuration: the configuration says where to restore to. It
restores the database, the uploads and the demo key file, after checking the manifest
and every checksum, and tells whether the secret key in use is the one of backup time
(when it is not, everyone signs in again).

Nothing here imports Typer: ``cli.backup`` is the command line over it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from alembic.script import ScriptDirectory
from pydantic import SecretStr
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from config import Settings
from config.paths import demo_key_file, uploads_folder
from config.settings import CONFIG_FILE_VARIABLE
from workflow.db import alembic_config, make_engine, session_factory, transaction
from workflow.services.users import revoke_sessions

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


# --- results ------------------------------------------------------------------------


@dataclass
class BackupResult:
    archive: Path
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"archive": str(self.archive), "manifest": self.manifest, "warnings": self.warnings}


@dataclass
class RestoreResult:
    archive: Path
    manifest: dict[str, Any]
    database: str
    revision: str
    tables: dict[str, int]
    uploads_folder: Path
    uploads: int
    uploads_bytes: int
    uploads_set_aside: Path | None
    key_file: Path | None
    configuration: list[str]
    warnings: list[str] = field(default_factory=list)
    schema_current: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "archive": str(self.archive),
            "made_at": self.manifest["created_at"],
            "database": self.database,
            "revision": self.revision,
            "schema_current": self.schema_current,
            "tables": self.tables,
            "uploads_folder": str(self.uploads_folder),
            "uploads": self.uploads,
            "uploads_bytes": self.uploads_bytes,
            "uploads_set_aside": str(self.uploads_set_aside) if self.uploads_set_aside else None,
            "key_file": str(self.key_file) if self.key_file else None,
            "configuration": self.configuration,
            "warnings": self.warnings,
        }


# --- small helpers ------------------------------------------------------------------


def _sha256(path: Path) -> str:
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


def _key_in_use(settings: Settings) -> str:
    """The configured key, or else the demo's key file (as the demo uses it)."""
    configured = settings.web.secret_key.get_secret_value()
    if configured:
        return configured
    path = demo_key_file(settings)
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _gnlc_version() -> str:
    try:
        return metadata.version("gnlc")
    except metadata.PackageNotFoundError:
        return "unknown"


def _known_revisions(url: str) -> tuple[set[str], set[str]]:
    """Every schema revision this code knows, and the newest (the heads)."""
    script = ScriptDirectory.from_config(alembic_config(url))
    return {rev.revision for rev in script.walk_revisions()}, set(script.get_heads())


def _count_rows(conn: Connection) -> tuple[str | None, dict[str, int], list[str]]:
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


def _first_line(exc: BaseException) -> str:
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


def _run_pg(tool: str, args: list[str], url: str, doing: str) -> None:
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


# --- backup -------------------------------------------------------------------------


def _dump_sqlite(url: str, out: Path) -> tuple[str | None, dict[str, int], list[str]]:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("database.url: an in-memory SQLite database cannot be backed up.")
    source = Path(database)
    if not source.is_file():
        raise BackupError(f"There is no database at {source}: nothing to back up.")
    try:
        # Read-only: a backup never creates or changes the database it copies.
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            dst = sqlite3.connect(out)
            try:
                # One step: the copy is of one consistent moment, even while others write.
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                problem = dst.execute("PRAGMA quick_check").fetchone()[0]
                if problem != "ok":
                    raise BackupError(
                        f"The database {source} is damaged ({problem}); restore an earlier "
                        "backup instead of backing this one up."
                    )
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(f"Could not copy the database {source}: {exc}.") from None
    engine = create_engine(f"sqlite:///{out}")
    try:
        with engine.connect() as conn:
            return _count_rows(conn)
    finally:
        engine.dispose()


def _dump_postgresql(url: str, out: Path) -> tuple[str | None, dict[str, int], list[str]]:
    find_pg_tool("pg_dump")  # say it is missing before connecting
    engine = create_engine(url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as conn:
            # The counts and pg_dump see the same snapshot: the manifest is the dump's.
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            counted = _count_rows(conn)
            _run_pg(
                "pg_dump",
                ["--format=custom", f"--snapshot={snapshot}", f"--file={out}"],
                url,
                "pg_dump",
            )
            conn.rollback()
            return counted
    except SQLAlchemyError as exc:
        raise BackupError(
            f"Could not read the database {safe_url(url)}: {_first_line(exc)}"
        ) from None
    finally:
        engine.dispose()


_SECRET_LINE = re.compile(r"^(\s*)(password|secret_key)(\s*=\s*).+$", re.MULTILINE)
_URL_PASSWORD = re.compile(r"(://[^:/@\s\"']+:)([^@\s\"']+)(@)")


def _mask_text(content: str) -> str:
    content = _SECRET_LINE.sub(lambda m: f'{m[1]}{m[2]}{m[3]}"" # {MASK}', content)
    return _URL_PASSWORD.sub(lambda m: f"{m[1]}***{m[3]}", content)


def _secret_values(settings: Settings) -> list[str]:
    values = [
        settings.smtp.password.get_secret_value(),
        settings.web.secret_key.get_secret_value(),
        str(make_url(settings.database.url).password or ""),
    ]
    return [value for value in values if len(value) >= 6]


def _plain(value: Any, include_secrets: bool) -> Any:
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        return secret if include_secrets or not secret else MASK
    if isinstance(value, dict):
        return {key: _plain(item, include_secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, include_secrets) for item in value]
    return value


def effective_settings(settings: Settings, include_secrets: bool) -> dict[str, Any]:
    data: dict[str, Any] = _plain(settings.model_dump(), include_secrets)
    if not include_secrets:
        data["database"]["url"] = safe_url(settings.database.url)
    return data


def _upload_files(folder: Path) -> Iterator[tuple[str, Path]]:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.endswith(".part"):
            yield path.relative_to(folder).as_posix(), path


def _target(dest: Path, now: datetime) -> Path:
    if dest.is_dir():
        return dest / f"gnlc-backup-{now:%Y%m%dT%H%M%SZ}.tar.gz"
    if dest.exists():
        raise BackupError(f"{dest} already exists; give a new file name or a folder.")
    if not dest.parent.is_dir():
        raise BackupError(f"The folder {dest.parent} does not exist; create it first.")
    return dest


def backup(
    settings: Settings,
    dest: Path,
    *,
    include_secrets: bool = False,
    environ: Mapping[str, str] | None = None,
) -> BackupResult:
    """Write one archive at ``dest`` (a file name, or a folder to put a dated one in)."""
    env = os.environ if environ is None else environ
    now = datetime.now(UTC)
    url = settings.database.url
    kind = database_kind(url)
    archive = _target(dest, now)
    warnings: list[str] = []
    try:
        work = Path(tempfile.mkdtemp(prefix=".gnlc-backup-", dir=archive.parent))
    except OSError as exc:
        raise BackupError(f"Cannot write in {archive.parent}: {exc.strerror}.") from None
    try:
        members: list[tuple[str, Path]] = []
        member = SQLITE_MEMBER if kind == "sqlite" else PG_MEMBER
        dump = work / PurePosixPath(member).name
        dumper = _dump_sqlite if kind == "sqlite" else _dump_postgresql
        revision, counts, referenced = dumper(url, dump)
        if revision is None:
            raise BackupError(
                f"The database {safe_url(url)} has no schema yet: run `gnlc db upgrade` "
                "or check database.url."
            )
        members.append((member, dump))

        # After the database: a file uploaded meanwhile is only an unreferenced extra.
        folder = uploads_folder(settings)
        uploads = [(UPLOADS_PREFIX + name, path) for name, path in _upload_files(folder)]
        members.extend(uploads)
        present = {name.removeprefix(UPLOADS_PREFIX) for name, _ in uploads}
        missing = sorted(set(referenced) - present)
        if missing:
            warnings.append(
                f"{len(missing)} signed form(s) the database refers to are not in "
                f"{folder} ({', '.join(missing[:5])}); they cannot be restored."
            )

        operator = env.get(CONFIG_FILE_VARIABLE)
        if operator:
            members.extend(_operator_copy(Path(operator), settings, include_secrets, work))
        effective = work / "settings.json"
        effective.write_text(
            json.dumps(effective_settings(settings, include_secrets), indent=2) + "\n",
            encoding="utf-8",
        )
        members.append((SETTINGS_MEMBER, effective))
        key = demo_key_file(settings)
        if key.is_file():
            members.append((KEY_MEMBER, key))

        files = {
            name: {"size": path.stat().st_size, "sha256": _sha256(path)} for name, path in members
        }
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "created_at": now.isoformat(),
            "gnlc_version": _gnlc_version(),
            "database": {
                "kind": kind,
                "url": safe_url(url),
                "revision": revision,
                "tables": counts,
                "rows": sum(counts.values()),
            },
            "uploads": {
                "folder": str(folder),
                "files": len(uploads),
                "bytes": sum(files[name]["size"] for name, _ in uploads),
            },
            "secrets_included": include_secrets,
            "secret_key_fingerprint": key_fingerprint(_key_in_use(settings)),
            "files": files,
        }
        if operator and OPERATOR_MEMBER not in files:
            warnings.append(
                f"The operator file {operator} holds a secret in a form that cannot be "
                "masked, so it was left out; back it up with --include-secrets or by hand."
            )
        _write_archive(archive, manifest, members)
        return BackupResult(archive, manifest, warnings)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _operator_copy(
    path: Path, settings: Settings, include_secrets: bool, work: Path
) -> list[tuple[str, Path]]:
    try:
        content = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BackupError(
            f"Cannot read the operator file {path} (GNLC_CONFIG): {exc.strerror}."
        ) from None
    if include_secrets:
        return [(OPERATOR_MEMBER, path)]
    masked = _mask_text(content)
    if any(secret in masked for secret in _secret_values(settings)):
        return []
    copy = work / "operator.toml"
    copy.write_text(masked, encoding="utf-8")
    return [(OPERATOR_MEMBER, copy)]


def _write_archive(
    archive: Path, manifest: dict[str, Any], members: list[tuple[str, Path]]
) -> None:
    partial = archive.with_name(archive.name + ".part")
    try:
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            data = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(datetime.now(UTC).timestamp()), 0o600
            tar.addfile(info, io.BytesIO(data))  # first: a restore checks it before the rest
            for name, path in members:
                info = tar.gettarinfo(str(path), arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o600
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
        partial.chmod(0o600)  # it holds every account and its personal data
        os.replace(partial, archive)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"Cannot write {archive}: {exc.strerror or exc}.") from None


# --- restore ------------------------------------------------------------------------


def _not_a_backup(src: Path, why: str) -> BackupError:
    return BackupError(f"{src} is not a usable gnlc backup ({why}); choose another archive.")


@contextmanager
def _open_archive(src: Path) -> Iterator[tarfile.TarFile]:
    if not src.is_file():
        raise BackupError(f"There is no backup file {src}.")
    try:
        with tarfile.open(src, "r:gz") as tar:
            yield tar
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise _not_a_backup(src, f"damaged or not a .tar.gz archive: {exc}") from None


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and bool(path.parts)


def _read_manifest(src: Path, tar: tarfile.TarFile) -> dict[str, Any]:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isfile():
        raise _not_a_backup(src, f"no {MANIFEST} at its start")
    handle = tar.extractfile(first)
    try:
        manifest = json.loads(handle.read()) if handle else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _not_a_backup(src, f"its {MANIFEST} is not a gnlc backup manifest")
    version = manifest.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise BackupError(
            f"{src} is a backup of format {version}, newer than this gnlc reads "
            f"({FORMAT_VERSION}); restore it with the gnlc version that made it "
            f"({manifest.get('gnlc_version', 'unknown')})."
        )
    database, files = manifest.get("database"), manifest.get("files")
    complete = (
        isinstance(database, dict)
        and isinstance(database.get("kind"), str)
        and isinstance(database.get("revision"), str)
        and isinstance(database.get("tables"), dict)
        and isinstance(files, dict)
        and all(
            _safe_member(name) and isinstance(spec, dict) and isinstance(spec.get("sha256"), str)
            for name, spec in files.items()
        )
    )
    if not complete:
        raise _not_a_backup(src, f"its {MANIFEST} is incomplete")
    return manifest


def _extract_verified(src: Path, tar: tarfile.TarFile, files: dict[str, Any], into: Path) -> None:
    """Every file of the manifest, written under ``into`` and checked against its sha256."""
    seen: set[str] = set()
    for member in tar:
        if member.name not in files or not member.isfile():
            continue
        handle = tar.extractfile(member)
        if handle is None:
            continue
        target = into / member.name
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with target.open("wb") as out:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != files[member.name]["sha256"]:
            raise BackupError(
                f"{src} is damaged: {member.name} does not match its checksum; use another backup."
            )
        seen.add(member.name)
    missing = sorted(set(files) - seen)
    if missing:
        raise BackupError(f"{src} is incomplete: {missing[0]} is missing; use another backup.")


def _current_state(url: str, kind: str) -> tuple[str | None, dict[str, int]] | None:
    """The schema revision and row counts of the configured database; None when there
    is no SQLite file yet."""
    if kind == "sqlite":
        database = make_url(url).database
        if not database or database == ":memory:":
            raise BackupError("database.url: cannot restore into an in-memory SQLite database.")
        if not Path(database).is_file() or Path(database).stat().st_size == 0:
            return None
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            revision, counts, _ = _count_rows(conn)
            return revision, counts
    except SQLAlchemyError as exc:
        hint = ""
        if kind == "postgresql" and "does not exist" in _first_line(exc):
            hint = f" Create it first: createdb {make_url(url).database}"
        raise BackupError(
            f"Cannot reach the database {safe_url(url)}: {_first_line(exc)}.{hint}"
        ) from None
    finally:
        engine.dispose()


def _load_sqlite(staged: Path, url: str) -> None:
    target = Path(str(make_url(url).database))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        src = sqlite3.connect(staged)
        try:
            if src.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise BackupError("The database in the backup is damaged; use another backup.")
            dst = sqlite3.connect(target, timeout=30)
            try:
                # Page by page into the live file, as one transaction on it: no stale
                # -wal file next to a replaced database, and all or nothing.
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(f"Could not restore the database into {target}: {exc}.") from None


def _load_postgresql(staged: Path, url: str) -> None:
    # --clean drops every object of the dump (the audit log's triggers refuse DELETE and
    # TRUNCATE, not DROP) and creates it again; one transaction: all or nothing.
    _run_pg(
        "pg_restore",
        [
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            str(staged),
        ],
        url,
        "pg_restore",
    )


def _same_files(folder: Path, other: Path) -> bool:
    """True when ``folder`` holds exactly the files of ``other``, byte for byte."""
    mine = dict(_upload_files(folder))
    theirs = dict(_upload_files(other))
    if mine.keys() != theirs.keys():
        return False
    return all(_sha256(mine[name]) == _sha256(theirs[name]) for name in mine)


def _stamp(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}"


def restore(settings: Settings, src: Path, *, force: bool = False) -> RestoreResult:
    """Restore the database, the uploads and the demo key file from the archive ``src``
    into what ``settings`` configure."""
    url = settings.database.url
    kind = database_kind(url)
    folder = uploads_folder(settings)
    now = datetime.now(UTC)
    with _open_archive(src) as tar:
        manifest = _read_manifest(src, tar)
        saved = manifest["database"]
        if saved["kind"] != kind:
            raise BackupError(
                f"{src} holds a {KIND_NAMES.get(saved['kind'], saved['kind'])} database and "
                f"the configured one is {KIND_NAMES[kind]} ({safe_url(url)}); set "
                "database.url to a database of the backup's kind."
            )
        known, heads = _known_revisions(url)
        if saved["revision"] not in known:
            raise BackupError(
                f"{src} has the database schema {saved['revision']}, which this gnlc does not "
                f"know (newest: {', '.join(sorted(heads))}); restore it with the gnlc version "
                f"that made it ({manifest.get('gnlc_version', 'unknown')})."
            )
        current = _current_state(url, kind)
        if current is not None:
            rows = sum(current[1].values())
            if rows and not force:
                raise BackupError(
                    f"The database {safe_url(url)} is not empty ({rows} rows); restoring "
                    "replaces all of it: add --force to do so."
                )
            extra = sorted(set(current[1]) - set(saved["tables"]))
            if kind == "postgresql" and extra:
                raise BackupError(
                    f"The database {safe_url(url)} has tables the backup does not know "
                    f"({', '.join(extra)}): restore into a new, empty database "
                    "(dropdb, createdb) instead."
                )
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".gnlc-restore-", dir=folder.parent))
        except OSError as exc:
            raise BackupError(f"Cannot write in {folder.parent}: {exc.strerror}.") from None
        try:
            try:
                _extract_verified(src, tar, manifest["files"], staging)
            except (tarfile.TarError, EOFError, zlib.error) as exc:
                raise _not_a_backup(src, f"damaged archive: {exc}") from None
            return _apply(settings, src, manifest, staging, now)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _sign_everyone_out(url: str, now: datetime) -> int:
    """End every session and API token in the restored database: some may have been
    ended (signed out, password changed, account closed) after the backup was made."""
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            return revoke_sessions(session, None, now=now)
    finally:
        engine.dispose()


def _apply(
    settings: Settings, src: Path, manifest: dict[str, Any], staging: Path, now: datetime
) -> RestoreResult:
    url = settings.database.url
    kind = manifest["database"]["kind"]
    files: dict[str, Any] = manifest["files"]
    if kind == "sqlite":
        _load_sqlite(staging / SQLITE_MEMBER, url)
    else:
        _load_postgresql(staging / PG_MEMBER, url)
    restored = _current_state(url, kind)
    revision, tables = restored if restored else (None, {})
    expected = manifest["database"]["tables"]
    if revision != manifest["database"]["revision"] or tables != expected:
        names = set(tables) | set(expected)
        differ = sorted(name for name in names if tables.get(name) != expected.get(name))
        raise BackupError(
            f"The restored database does not match the backup's manifest (tables: "
            f"{', '.join(differ) or 'none'}, schema {revision}); restore again or use "
            "another backup."
        )
    _, heads = _known_revisions(url)
    signed_out = _sign_everyone_out(url, now)

    # The uploads folder becomes the backup's; what was there is set aside, not deleted.
    folder = uploads_folder(settings)
    staged_uploads = staging / UPLOADS_PREFIX.rstrip("/")
    staged_uploads.mkdir(parents=True, exist_ok=True)
    set_aside: Path | None = None
    try:
        if folder.exists():
            if not _same_files(folder, staged_uploads):
                set_aside = folder.with_name(f"{folder.name}.before-restore-{_stamp(now)}")
                os.replace(folder, set_aside)
            else:
                shutil.rmtree(folder)
        os.replace(staged_uploads, folder)
    except OSError as exc:
        raise BackupError(
            f"The database is restored, but not the uploads: cannot replace {folder} "
            f"({exc.strerror}); fix its permissions and restore again with --force."
        ) from None
    uploads = {name: spec for name, spec in files.items() if name.startswith(UPLOADS_PREFIX)}

    key: Path | None = None
    if KEY_MEMBER in files:
        key = demo_key_file(settings)
        try:
            partial = key.with_name(key.name + ".part")
            shutil.copyfile(staging / KEY_MEMBER, partial)
            partial.chmod(0o600)
            os.replace(partial, key)
        except OSError as exc:
            raise BackupError(
                f"The database and uploads are restored, but not the key file {key} "
                f"({exc.strerror}); fix its folder's permissions and restore again with --force."
            ) from None

    warnings: list[str] = []
    if signed_out:
        warnings.append(
            f"Ended the {signed_out} session(s) and API token(s) that were open at backup "
            "time: everyone signs in again (a restore must not revive a sign-in that was "
            "ended since)."
        )
    saved_key = manifest.get("secret_key_fingerprint")
    if saved_key and key_fingerprint(_key_in_use(settings)) != saved_key:
        where = (
            "the archive's config/settings.json holds it"
            if manifest.get("secrets_included")
            else "it is not in this archive (made without --include-secrets)"
        )
        warnings.append(
            "The secret key differs from the one in use at backup time: everyone will have "
            f"to sign in again. To avoid it, set web.secret_key to the old key ({where})."
        )
    configuration = [name for name in (OPERATOR_MEMBER, SETTINGS_MEMBER) if name in files]
    return RestoreResult(
        archive=src,
        manifest=manifest,
        database=safe_url(url),
        revision=str(revision),
        tables=tables,
        uploads_folder=folder,
        uploads=len(uploads),
        uploads_bytes=sum(int(spec["size"]) for spec in uploads.values()),
        uploads_set_aside=set_aside,
        key_file=key,
        configuration=configuration,
        warnings=warnings,
        schema_current=revision in heads,
    )


def describe_tables(tables: Mapping[str, int]) -> str:
    """``12 rows in 16 tables (applications 2, audit_events 7, ...)``, empty ones left out."""
    rows = sum(tables.values())
    filled = ", ".join(f"{name} {count}" for name, count in sorted(tables.items()) if count)
    return f"{rows} rows in {len(tables)} tables" + (f" ({filled})" if filled else "")
