"""Faults an operator can cause, said in one line: what is wrong and what to do.

The command line, the scheduler process and ``gnlc doctor`` turn a failure to open or
use the database into one of these lines instead of a traceback. A fault that is not
an operator's (a bug) gets ``None`` here, and its caller lets it show in full.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError

#: Where the database setting is written, for every message that names it.
DATABASE_SETTING = "[database] url (GNLC_DATABASE__URL)"


def safe_url(url: str) -> str:
    """``url`` with its password hidden (or the text itself when it is not a URL)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        return url


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or ``None`` (another database, or in memory)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _where(url: str) -> str:
    parsed = make_url(url)
    if parsed.host:
        return parsed.host + (f":{parsed.port}" if parsed.port else "")
    return "the local socket"


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else text.strip()


def _postgres(url: str, text: str) -> str:
    parsed = make_url(url)
    where = _where(url)
    name = parsed.database or parsed.username or "?"
    if m := re.search(r'database "([^"]+)" does not exist', text):
        name = m.group(1)
        host = parsed.host or "localhost"
        return (
            f"database '{name}' does not exist on {host}: create it with `createdb {name}`, "
            f"or fix {DATABASE_SETTING}"
        )
    if m := re.search(r'(?:password|Peer|Ident) authentication failed for user "([^"]+)"', text):
        return (
            f"PostgreSQL on {where} refused the user '{m.group(1)}' "
            f"({_first_line(text.split('FATAL:')[-1])}): check the user and password in "
            f"{DATABASE_SETTING}, or the server's pg_hba.conf"
        )
    if m := re.search(r'role "([^"]+)" does not exist', text):
        return (
            f"PostgreSQL on {where} has no user '{m.group(1)}': create it with "
            f"`createuser {m.group(1)}`, or fix the user in {DATABASE_SETTING}"
        )
    if "failed to resolve host" in text or "could not translate host name" in text:
        return f"the database host '{parsed.host}' is unknown: fix the host in {DATABASE_SETTING}"
    if any(
        sign in text
        for sign in ("Connection refused", "No such file or directory", "timeout expired",
                     "Connection timed out", "server closed the connection", "No route to host",
                     "the database system is starting up", "the database system is shutting down")
    ):  # fmt: skip
        reason = _first_line(text.rsplit("failed:", 1)[-1])
        return (
            f"cannot reach the PostgreSQL server on {where} ({reason}): start it, "
            f"or fix the host and port in {DATABASE_SETTING}"
        )
    return f"the database {safe_url(url)} failed: {_first_line(text)}; check {DATABASE_SETTING}"


def _sqlite(url: str, text: str) -> str:
    path = sqlite_path(url)
    shown = str(path) if path is not None else safe_url(url)
    folder = str(path.parent) if path is not None else "its folder"
    if "unable to open database file" in text:
        return (
            f"cannot open the SQLite file {shown}: its folder {folder} is missing or not "
            f"writable; make it writable, or point {DATABASE_SETTING} elsewhere"
        )
    if "readonly database" in text or "read-only" in text:
        return (
            f"the SQLite file {shown} is read-only: make it and its folder {folder} "
            f"writable, or point {DATABASE_SETTING} elsewhere"
        )
    if "file is not a database" in text or "malformed" in text:
        return (
            f"{shown} is not a SQLite database or is damaged ({_first_line(text)}): restore "
            f"it from a backup, or point {DATABASE_SETTING} at the right file"
        )
    if "disk I/O error" in text or "database or disk is full" in text:
        return (
            f"the SQLite file {shown} cannot be written ({_first_line(text)}): free disk "
            f"space or check the disk under {folder}"
        )
    return f"the SQLite database {shown} failed: {_first_line(text)}; check {DATABASE_SETTING}"


def _parses(url: str) -> bool:
    try:
        make_url(url)
    except (ArgumentError, ValueError):
        return False
    return True


def database_problem(exc: BaseException, url: str) -> str | None:
    """One line for a database fault an operator can fix; ``None`` for anything else."""
    if isinstance(exc, NoSuchModuleError):
        kind = url.split("://", 1)[0]
        return (
            f"{DATABASE_SETTING} names '{kind}', which is not a database gnlc can use: write "
            "sqlite:///var/gnlc.db or postgresql+psycopg://user@host/gnlc"
        )
    if isinstance(exc, ArgumentError) or (isinstance(exc, ValueError) and not _parses(url)):
        return (
            f"{DATABASE_SETTING} is not a database URL ({safe_url(url)!r}): write "
            "sqlite:///var/gnlc.db or postgresql+psycopg://user@host/gnlc"
        )
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return (
            f"{DATABASE_SETTING} needs the Python driver '{exc.name}', which is not "
            "installed: use postgresql+psycopg://... (installed), or install that driver"
        )
    if isinstance(exc, OperationalError | DatabaseError):
        text = str(exc.orig) if exc.orig is not None else str(exc)
        try:
            backend = make_url(url).get_backend_name()
        except (ArgumentError, ValueError):
            backend = ""
        return _sqlite(url, text) if backend == "sqlite" else _postgres(url, text)
    if isinstance(exc, OSError):
        path = sqlite_path(url)
        what = f"the folder of the SQLite file {path}" if path is not None else "a file"
        detail = exc.strerror or str(exc)
        name = f" ({exc.filename})" if exc.filename else ""
        if isinstance(exc, FileExistsError | NotADirectoryError):
            detail = "a file of that name is in the way, not a folder"
        return (
            f"cannot create or write {what}: {detail}{name}; make var/ (or that folder) "
            f"writable, or point {DATABASE_SETTING} elsewhere"
        )
    if type(exc).__name__ == "CommandError" and "revision" in str(exc):
        # Alembic: the database was migrated by a newer gnlc than this one.
        return (
            f"the database {safe_url(url)} is at a migration this version of gnlc does not "
            f"know ({exc}): run the gnlc that created it, or point {DATABASE_SETTING} at "
            "the right database"
        )
    return None
