"""The route every variant of benchmark 1 walks, and what each step must write.

submit (city) -> endorse (Commission) -> start_review (Institute) -> admit (Institute);
one transaction per action. Each step writes the application's new state and version,
one audit event and its outbox rows; admission is announced at once: one more audit
event, and the membership and its audit event. The peers write the same rows as our
services (checked by :func:`row_counts` after each run).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from bench.world import IN_WINDOW
from config import Settings, load_settings
from notifications import wiring
from notifications.models import OutboxMessage
from notifications.outbox import rows_for
from workflow.actors import Actor
from workflow.events import Event
from workflow.models import Application, AuditEvent, Membership
from workflow.states import Role


@dataclass(frozen=True)
class Step:
    trigger: str
    role: Role
    source: str
    dest: str
    at: datetime


ROUTE = (
    Step("submit", Role.CITY, "draft", "submitted", IN_WINDOW),
    Step("endorse", Role.COMMISSION, "submitted", "forwarded", IN_WINDOW + timedelta(days=5)),
    Step(
        "start_review",
        Role.INSTITUTE,
        "forwarded",
        "under_review",
        IN_WINDOW + timedelta(days=40),
    ),
    Step("admit", Role.INSTITUTE, "under_review", "admitted", IN_WINDOW + timedelta(days=60)),
)
INSTITUTE = Actor(Role.INSTITUTE, "UIL officer", user_id=None)
#: The route's admission is announced in the same action (one more audit event, the
#: application's ``announce_admission``, whose mail and membership are the admission's).
ANNOUNCED = {"admit": "announce_admission"}


def actor(step: Step, city_id: int, country: str) -> Actor:
    if step.role is Role.CITY:
        return Actor(
            Role.CITY, f"City {city_id} focal point", city_id=city_id, country_code=country
        )
    if step.role is Role.COMMISSION:
        return Actor(Role.COMMISSION, f"{country} Commission officer", country_code=country)
    return INSTITUTE


def bench_settings(url: str) -> Settings:
    return load_settings({}).with_overrides(database={"url": url})


def outbox_rows(
    app: Application, trigger: str, settings: Settings, now: datetime, round_: str
) -> list[dict[str, Any]]:
    """The outbox rows our services write for ``trigger``, rendered the same way (an
    admission on the route is announced at once: its mail is the announcement's)."""
    trigger = ANNOUNCED.get(trigger, trigger)
    event = Event(
        workflow="application",
        subject_type="application",
        subject_id=app.id,
        trigger=trigger,
        source=None,
        dest=None,
        actor=INSTITUTE,
        comment="",
        at=now,
        round=round_,
    )
    owed = wiring.owed(app, wiring.of_city(app.city), settings, event)
    return [row for o in owed for row in rows_for(o, now, settings.mail.from_address)]


@dataclass(frozen=True)
class RowCounts:
    admitted: int
    audit: int
    outbox: int
    members: int

    def __str__(self) -> str:
        return (
            f"{self.admitted} admitted, {self.audit} audit events, {self.outbox} outbox rows, "
            f"{self.members} memberships"
        )


def row_counts(engine: Engine) -> RowCounts:
    """What a run left in the database: every variant must leave the same."""
    with engine.connect() as conn:

        def count(query: Any) -> int:
            return int(conn.execute(query).scalar_one())

        return RowCounts(
            count(select(func.count()).where(Application.state == "admitted")),
            count(select(func.count()).select_from(AuditEvent)),
            count(select(func.count()).select_from(OutboxMessage)),
            count(select(func.count()).select_from(Membership)),
        )
