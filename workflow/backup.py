"""Backup: the database, the uploaded files and the configuration, in one archive.

A backup is one ``.tar.gz`` file: one thing to copy off the machine, to rotate and to
check, written under a temporary name and renamed when complete (a crash never leaves a
half archive under the final name). It holds::

What the archive holds is described in ``workflow.archive``. Secrets (the SMTP password,
``web.secret_key``, a password in the database URL) are masked in the configuration
copies unless the backup is made with ``include_secrets``. ``workflow.restore`` reads
the archive back.

Nothing here imports Typer: ``cli.backup`` is the command line over it.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from config import Settings
from config.paths import demo_key_file, uploads_folder
from config.settings import CONFIG_FILE_VARIABLE
from workflow.archive import (
    FORMAT,
    FORMAT_VERSION,
    KEY_MEMBER,
    MANIFEST,
    MASK,
    OPERATOR_MEMBER,
    PG_MEMBER,
    SETTINGS_MEMBER,
    SQLITE_MEMBER,
    UPLOADS_PREFIX,
    BackupError,
    count_rows,
    database_kind,
    find_pg_tool,
    first_line,
    key_fingerprint,
    key_in_use,
    run_pg,
    safe_url,
    sha256_of,
    upload_files,
)


@dataclass
class BackupResult:
    archive: Path
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"archive": str(self.archive), "manifest": self.manifest, "warnings": self.warnings}


def _gnlc_version() -> str:
    try:
        return metadata.version("gnlc")
    except metadata.PackageNotFoundError:
        return "unknown"


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
            return count_rows(conn)
    finally:
        engine.dispose()


def _dump_postgresql(url: str, out: Path) -> tuple[str | None, dict[str, int], list[str]]:
    find_pg_tool("pg_dump")  # say it is missing before connecting
    engine = create_engine(url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as conn:
            # The counts and pg_dump see the same snapshot: the manifest is the dump's.
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            counted = count_rows(conn)
            run_pg(
                "pg_dump",
                ["--format=custom", f"--snapshot={snapshot}", f"--file={out}"],
                url,
                "pg_dump",
            )
            conn.rollback()
            return counted
    except SQLAlchemyError as exc:
        raise BackupError(
            f"Could not read the database {safe_url(url)}: {first_line(exc)}"
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
        uploads = [(UPLOADS_PREFIX + name, path) for name, path in upload_files(folder)]
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
            name: {"size": path.stat().st_size, "sha256": sha256_of(path)} for name, path in members
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
            "secret_key_fingerprint": key_fingerprint(key_in_use(settings)),
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
