"""Benchmark 1, the Core floor: only the statements a transition needs, through
SQLAlchemy Core, and nothing else.

Per action, on one reused :class:`~sqlalchemy.engine.Connection` with its compiled
statement cache: one narrow read of the application joined with its call, city and
country (``FOR NO KEY UPDATE`` of the application on PostgreSQL), one UPDATE with the
version check, one INSERT of the audit event (``RETURNING`` its id), one multi-row
INSERT of the outbox rows (the limit's text, rendered once), and on admission the
membership and its two audit events. No rule is checked and nothing is rendered: this
is what any transition path built on Core statements costs at least, measured beside
the raw driver (:mod:`bench.throughput_limit`) in the same run.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update

from bench.route import ROUTE
from bench.throughput_limit import prerender
from bench.world import Applicants
from notifications.models import OutboxMessage
from workflow.db import make_engine
from workflow.models import Application, AuditEvent, Call, City, Country, Membership

APPS, CALLS = cast(Table, Application.__table__), cast(Table, Call.__table__)
CITIES, COUNTRIES = cast(Table, City.__table__), cast(Table, Country.__table__)
AUDITS = cast(Table, AuditEvent.__table__)

READ = (
    select(APPS.c.id, APPS.c.state, APPS.c.version, APPS.c.city_id, APPS.c.country_code,
           APPS.c.route, APPS.c.announced_at, CALLS.c.name, CALLS.c.opens_on,
           CALLS.c.closes_on, CALLS.c.commission_deadline, CALLS.c.timezone, CALLS.c.quota,
           CITIES.c.name.label("city"), CITIES.c.contact_email, CITIES.c.language,
           COUNTRIES.c.name.label("country"), COUNTRIES.c.commission_email)
    .select_from(
        APPS.join(CALLS, CALLS.c.id == APPS.c.call_id)
        .join(CITIES, CITIES.c.id == APPS.c.city_id)
        .join(COUNTRIES, COUNTRIES.c.code == CITIES.c.country_code)
    )
    .where(APPS.c.id == bindparam("app_id"))
)  # fmt: skip
UPDATE = (
    update(APPS)
    .where(APPS.c.id == bindparam("app_id"), APPS.c.version == bindparam("seen"))
    .values(state=bindparam("dest"), version=APPS.c.version + 1, updated_at=bindparam("at"))
)
AUDIT = insert(AUDITS).returning(AUDITS.c.id)
OUTBOX = insert(cast(Table, OutboxMessage.__table__))
MEMBER = insert(cast(Table, Membership.__table__))


class CoreFloor:
    def __init__(self, url: str, applicants: Applicants) -> None:
        self.templates = prerender(url, applicants)
        self.engine = make_engine(url)
        self.read = READ
        if url.startswith("postgresql"):
            self.read = READ.with_for_update(of=APPS, key_share=True)
        self.conn = self.engine.connect()

    def walk(self, chunk: list[tuple[int, int, str]]) -> None:
        conn = self.conn
        for step in ROUTE:
            for app_id, city_id, _country in chunk:
                with conn.begin():
                    row = conn.execute(self.read, {"app_id": app_id}).one()
                    if row.state != step.source:
                        raise RuntimeError(f"application {app_id} is {row.state}")
                    changed = conn.execute(
                        UPDATE,
                        {"app_id": app_id, "seen": row.version, "dest": step.dest, "at": step.at},
                    )
                    if changed.rowcount != 1:
                        raise RuntimeError(f"application {app_id}: version {row.version} is stale")
                    event = self._audit(step.trigger, step.role.value, "application", app_id,
                                        step.source, step.dest, step.at)  # fmt: skip
                    rows = [
                        {**t, "key": f"application:{app_id}:{t['occasion']}:{event}:"
                         f"{t['recipient']}", "subject_id": app_id,
                         "message_id": f"<{uuid.uuid4().hex}@unesco.org>",
                         "next_attempt_at": step.at, "created_at": step.at}
                        for t in self.templates[step.trigger]
                    ]  # fmt: skip
                    if rows:
                        conn.execute(OUTBOX, rows)
                    if step.trigger == "admit":
                        day = step.at.date()
                        conn.execute(
                            MEMBER,
                            {"city_id": city_id, "application_id": app_id, "admitted_on": day,
                             "admission_year": day.year, "reports_from": day, "state": "active",
                             "version": 1, "state_since": step.at},
                        )  # fmt: skip
                        self._audit("admit", "institute", "membership", app_id, None, "active",
                                    step.at)  # fmt: skip
                        self._audit("announce_admission", "institute", "application", app_id,
                                    "admitted", "admitted", step.at)  # fmt: skip

    def _audit(self, action: str, role: str, kind: str, key: int, source: str | None,
               dest: str, at: Any) -> int:  # fmt: skip
        return int(
            self.conn.execute(
                AUDIT,
                {"at": at, "actor_id": None, "actor_name": f"{role} officer", "role": role,
                 "subject_type": kind, "subject_id": key, "action": action,
                 "from_state": source, "to_state": dest, "comment": ""},
            ).scalar_one()
        )  # fmt: skip

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()
