"""Benchmark 1, the limit: the same rows written with the raw driver, nothing else.

One transaction per action: the state UPDATE with its version check, the audit INSERT,
the outbox INSERTs with text rendered once beforehand (the same size as ours), and on
admission the membership and its audit event. SQLite through :mod:`sqlite3` with the
pragmas of :func:`workflow.db.make_engine`; PostgreSQL through :mod:`psycopg`.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from bench.route import ROUTE, Step, bench_settings, outbox_rows
from bench.world import Applicants
from workflow.db import make_engine, session_factory
from workflow.models import Application

UPDATE = (
    "UPDATE applications SET state = ?, version = version + 1, updated_at = ? "
    "WHERE id = ? AND version = ?"
)
AUDIT = (
    "INSERT INTO audit_events (at, actor_id, actor_name, role, subject_type, subject_id, "
    "action, from_state, to_state, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
OUTBOX = (
    "INSERT INTO outbox (key, occasion, subject_type, subject_id, recipient, to_addrs, "
    "cc_addrs, language, subject, body_text, body_html, message_id, status, attempts, "
    "next_attempt_at, last_error, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
MEMBER = (
    "INSERT INTO memberships (city_id, application_id, admitted_on, admission_year, "
    "reports_from, state, version, state_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
Templates = dict[str, list[dict[str, Any]]]


def prerender(url: str, applicants: Applicants) -> Templates:
    """The outbox rows of each step for the first application, to copy for all."""
    settings = bench_settings(url)
    engine = make_engine(url)
    with session_factory(engine)() as session:
        app = session.get(Application, applicants.applications[0][0])
        assert app is not None
        rows = {s.trigger: outbox_rows(app, s.trigger, settings, s.at, "1") for s in ROUTE}
    engine.dispose()
    return rows


def stamp(at: datetime, postgres: bool) -> Any:
    # SQLAlchemy stores naive UTC text on SQLite; PostgreSQL takes the aware instant.
    return at if postgres else at.replace(tzinfo=None).isoformat(sep=" ")


def outbox_params(
    template: dict[str, Any], app_id: int, step: Step, postgres: bool
) -> tuple[Any, ...]:
    key = f"application:{app_id}:{template['occasion']}:1:{template['recipient']}"
    return (
        key,
        template["occasion"],
        "application",
        app_id,
        template["recipient"],
        json.dumps(template["to_addrs"]),
        json.dumps(template["cc_addrs"]),
        template["language"],
        template["subject"],
        template["body_text"],
        template["body_html"],
        f"<{uuid.uuid4().hex}@unesco.org>",
        "pending",
        0,
        stamp(step.at, postgres),
        "",
        stamp(step.at, postgres),
    )


def write_step(
    execute: Callable[[str, tuple[Any, ...]], int],
    executemany: Callable[[str, list[tuple[Any, ...]]], None],
    step: Step,
    app: tuple[int, int, str],
    version: int,
    templates: Templates,
    postgres: bool,
) -> None:
    app_id, city_id, _country = app
    at = stamp(step.at, postgres)
    if execute(UPDATE, (step.dest, at, app_id, version)) != 1:
        raise RuntimeError(f"application {app_id}: version {version} is stale")
    execute(
        AUDIT,
        (at, None, f"{step.role.value} officer", step.role.value, "application", app_id,
         step.trigger, step.source, step.dest, ""),
    )  # fmt: skip
    rows = templates[step.trigger]
    if rows:
        executemany(OUTBOX, [outbox_params(t, app_id, step, postgres) for t in rows])
    if step.trigger == "admit":
        day = step.at.date()
        execute(
            MEMBER,
            (city_id, app_id, day.isoformat() if not postgres else day, day.year,
             day.isoformat() if not postgres else day, "active", 1, at),
        )  # fmt: skip
        execute(
            AUDIT,
            (at, None, "UIL officer", "institute", "membership", app_id, "admit", None,
             "active", f"application {app_id}"),
        )  # fmt: skip
        execute(
            AUDIT,
            (at, None, "UIL officer", "institute", "application", app_id, "announce_admission",
             "admitted", "admitted", ""),
        )  # fmt: skip


class Limit:
    """The raw driver: SQLite through :mod:`sqlite3`, PostgreSQL through :mod:`psycopg`."""

    def __init__(self, url: str, applicants: Applicants) -> None:
        self.templates = prerender(url, applicants)
        self.postgres = url.startswith("postgresql")
        parsed = make_url(url)
        if self.postgres:
            self.pg = psycopg.connect(
                dbname=parsed.database,
                host=parsed.host,
                port=parsed.port,
                user=parsed.username,
                password=parsed.password,
            )
            self.cursor = self.pg.cursor()
        else:
            self.lite = sqlite3.connect(str(parsed.database), isolation_level=None, timeout=30)
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
                self.lite.execute(f"PRAGMA {pragma}")

    def execute(self, sql: str, params: tuple[Any, ...]) -> int:
        if self.postgres:
            self.cursor.execute(sql.replace("?", "%s"), params)
            return self.cursor.rowcount
        return self.lite.execute(sql, params).rowcount

    def executemany(self, sql: str, params: list[tuple[Any, ...]]) -> None:
        if self.postgres:
            self.cursor.executemany(sql.replace("?", "%s"), params)
        else:
            self.lite.executemany(sql, params)

    def walk(self, chunk: list[tuple[int, int, str]]) -> None:
        for number, step in enumerate(ROUTE, start=1):
            for app in chunk:
                if not self.postgres:
                    self.lite.execute("BEGIN IMMEDIATE")
                write_step(
                    self.execute, self.executemany, step, app, number, self.templates, self.postgres
                )
                if self.postgres:
                    self.pg.commit()
                else:
                    self.lite.execute("COMMIT")

    def close(self) -> None:
        if self.postgres:
            self.pg.close()
        else:
            self.lite.close()
