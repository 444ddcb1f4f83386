"""Restore: check a backup archive (manifest, every checksum) and apply it.

A restore never applies configuration: the configuration says where to restore to. It
restores the database, the uploads and the demo key file, after checking the manifest
and every checksum, and tells whether the secret key in use is the one of backup time
(when it is not, everyone signs in again). The archive is described in
``workflow.archive``; ``workflow.backup`` writes it.

Nothing here imports Typer: ``cli.backup`` is the command line over it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from config import Settings
from config.paths import demo_key_file, uploads_folder
from workflow.archive import (
    FORMAT,
    FORMAT_VERSION,
    KEY_MEMBER,
    KIND_NAMES,
    MANIFEST,
    OPERATOR_MEMBER,
    PG_MEMBER,
    SETTINGS_MEMBER,
    SQLITE_MEMBER,
    UPLOADS_PREFIX,
    BackupError,
    count_rows,
    database_kind,
    first_line,
    key_fingerprint,
    key_in_use,
    run_pg,
    safe_url,
    same_files,
)
from workflow.db import alembic_config, make_engine, session_factory, transaction
from workflow.services.users import revoke_sessions

log = logging.getLogger("gnlc.restore")


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


def _known_revisions(url: str) -> tuple[set[str], set[str]]:
    """Every schema revision this code knows, and the newest (the heads)."""
    script = ScriptDirectory.from_config(alembic_config(url))
    return {rev.revision for rev in script.walk_revisions()}, set(script.get_heads())


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
            revision, counts, _ = count_rows(conn)
            return revision, counts
    except SQLAlchemyError as exc:
        hint = ""
        if kind == "postgresql" and "does not exist" in first_line(exc):
            hint = f" Create it first: createdb {make_url(url).database}"
        raise BackupError(
            f"Cannot reach the database {safe_url(url)}: {first_line(exc)}.{hint}"
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
    run_pg(
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
    # A dump carries no planner statistics: until autovacuum wakes, PostgreSQL would take
    # every table for a few rows and plan the first sweep's queries as nested loops (at
    # 100k members, 0.37 s for a query that takes 0.07 s with them). pg_restore's manual
    # asks for an ANALYZE after a restore.
    engine = make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    except SQLAlchemyError as exc:  # the data is in; only the first queries are slower
        log.warning("restored, but ANALYZE failed (autovacuum will gather them): %s", exc)
    finally:
        engine.dispose()


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
            if not same_files(folder, staged_uploads):
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
    if saved_key and key_fingerprint(key_in_use(settings)) != saved_key:
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
