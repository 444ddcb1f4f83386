"""The audit log as a read model: who did what to which record and when, filtered by
subject, actor and date, newest first, one page at a time.

One query for the portal's /admin/audit and for anything else that lists the log (the
API or the command line): the administrator and the Institute read all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from workflow.actors import Actor, require_role
from workflow.calendar import end_of_day, start_of_day
from workflow.errors import DateRangeReversed
from workflow.models import AuditEvent, User
from workflow.states import Role
from workflow.views import PER_PAGE, Page, page_of

#: The kinds of record the log speaks of (``AuditEvent.subject_type``).
SUBJECT_KINDS = ("application", "report", "membership", "call", "city", "country", "user")
#: Dates of the filter are calendar days in this timezone (the page shows times in it).
TIMEZONE = "UTC"


@dataclass(frozen=True)
class AuditFilter:
    """Empty fields filter nothing. ``actor`` is part of an email address (any case);
    ``since`` and ``until`` are whole days, both included."""

    kind: str = ""
    subject_id: int | None = None
    actor: str = ""
    since: date | None = None
    until: date | None = None

    def check(self) -> None:
        if self.since and self.until and self.until < self.since:
            raise DateRangeReversed(self.since, self.until)


@dataclass(frozen=True)
class AuditLine:
    id: int
    at: datetime
    actor_name: str
    actor_email: str | None
    role: str
    subject_type: str
    subject_id: int
    action: str
    from_state: str | None
    to_state: str | None
    comment: str


def _select(where: AuditFilter) -> Select[AuditEvent, str]:
    query = select(AuditEvent, User.email).outerjoin(User, User.id == AuditEvent.actor_id)
    if where.kind:
        query = query.where(AuditEvent.subject_type == where.kind)
    if where.subject_id is not None:
        query = query.where(AuditEvent.subject_id == where.subject_id)
    if where.actor.strip():
        term = where.actor.strip().lower()
        query = query.where(func.lower(User.email).contains(term, autoescape=True))
    if where.since:
        query = query.where(AuditEvent.at >= start_of_day(where.since, TIMEZONE))
    if where.until:
        query = query.where(AuditEvent.at < end_of_day(where.until, TIMEZONE))
    return query


def audit_page(
    session: Session, actor: Actor, where: AuditFilter, number: int = 1, size: int = PER_PAGE
) -> tuple[list[AuditLine], Page]:
    """Page ``number`` of the events matching ``where``, newest first."""
    require_role(actor, Role.ADMIN, Role.INSTITUTE, doing="read the audit log")
    where.check()
    query = _select(where)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = page_of(number, total, size)
    rows = session.execute(
        query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .offset(page.offset)
        .limit(page.size)
    )
    lines = [
        AuditLine(
            id=e.id,
            at=e.at,
            actor_name=e.actor_name,
            actor_email=email,
            role=e.role,
            subject_type=e.subject_type,
            subject_id=e.subject_id,
            action=e.action,
            from_state=e.from_state,
            to_state=e.to_state,
            comment=e.comment,
        )
        for e, email in rows
    ]
    return lines, page
