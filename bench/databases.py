"""Scratch databases for the benchmarks: migrated once, copied fresh for every run.

SQLite: a migrated template file, copied per run (the engine of :func:`make_engine` then
opens it with WAL and ``synchronous=FULL``). PostgreSQL: a migrated template database,
and each run gets ``CREATE DATABASE ... TEMPLATE`` of it; all are dropped at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from workflow.db import upgrade

PG_ADMIN_URL = os.environ.get("GNLC_BENCH_PG_URL", "postgresql+psycopg:///postgres")


def postgres_reason() -> str | None:
    """None when PostgreSQL answers at :data:`PG_ADMIN_URL`, else why not."""
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means: no server to measure
        return f"PostgreSQL does not answer at {PG_ADMIN_URL} ({type(exc).__name__})"
    return None


def postgres_version() -> str:
    engine = create_engine(PG_ADMIN_URL)
    with engine.connect() as conn:
        version = str(conn.execute(text("SHOW server_version")).scalar_one())
    engine.dispose()
    return version


#: PostgreSQL's ``random_page_cost`` for the benchmarks' databases (docs/operations.md).
RANDOM_PAGE_COST = 1.1


class Scratch:
    """Fresh migrated databases of one backend (``sqlite`` or ``postgresql``)."""

    def __init__(self, backend: str, folder: Path) -> None:
        self.backend = backend
        self.folder = folder
        self._template: str | None = None
        self._made: list[str] = []

    def template(self) -> str:
        if self._template is None:
            if self.backend == "sqlite":
                path = self.folder / "template.db"
                upgrade(f"sqlite:///{path}")
                self._template = str(path)
            else:
                name = f"gnlc_bench_tpl_{uuid.uuid4().hex[:8]}"
                self._admin(f'CREATE DATABASE "{name}"')
                self._made.append(name)
                upgrade(_pg_url(name))
                self._template = name
        return self._template

    def fresh(self) -> str:
        """The URL of a new, migrated, empty database."""
        template = self.template()
        if self.backend == "sqlite":
            path = self.folder / f"run_{uuid.uuid4().hex[:8]}.db"
            shutil.copy(template, path)
            return f"sqlite:///{path}"
        name = f"gnlc_bench_{uuid.uuid4().hex[:8]}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        # The planner's setting docs/operations.md asks for on SSD storage (a database's
        # settings are not copied from its template).
        self._admin(f'ALTER DATABASE "{name}" SET random_page_cost = {RANDOM_PAGE_COST}')
        self._made.append(name)
        return _pg_url(name)

    def discard(self, url: str) -> None:
        """Remove a database made by :meth:`fresh` (frees the disk between runs)."""
        parsed = make_url(url)
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
        elif parsed.database in self._made:
            self._admin(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
            self._made.remove(parsed.database)

    def close(self) -> None:
        if self.backend == "postgresql":
            for name in reversed(self._made):
                self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._made.clear()

    def _admin(self, sql: str) -> None:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(sql))
        engine.dispose()


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def scratch_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="gnlc-bench-"))
