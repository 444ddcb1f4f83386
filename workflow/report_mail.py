"""Report reminders written set-based: one INSERT ... SELECT per round and kind of copy.

On a day when a hundred thousand members are owed the same reminder, building a Python
object per message would dominate the sweep. Every message of one round shares its
occasion, round and dates; what differs (the report, the city, its address and language)
is in the joined rows. So the database builds each outbox row itself: the key, the
headers, the Message-ID and the template context as JSON, exactly as
``notifications.outbox.rows_for(..., render_now=False)`` would (a test compares the two),
skipping keys already present. The dispatcher renders each message when it sends it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Integer, String, Table, case, false, func, literal, select, true
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from config import Settings
from notifications.outbox import Status
from notifications.render import FALLBACK, available_languages
from workflow.db import dialect_insert
from workflow.models import City, Country, Membership, OutboxMessage, Report, UTCDateTime
from workflow.reminders import (
    ReportRound,
    escalated,
    portal,
    report_pending,
    unsent,
)
from workflow.sweep_mail import PlannedMessage

Json = Callable[..., Any]


def _text(value: str) -> Any:
    return sql_cast(literal(value, String), String)


def _int(value: int) -> Any:
    return sql_cast(literal(value, Integer), Integer)


class _Dialect:
    """The few expressions that differ between SQLite and PostgreSQL."""

    def __init__(self, name: str, insert: Any) -> None:
        self.insert = insert
        self.postgres = name == "postgresql"
        self.obj: Json = func.json_build_object if self.postgres else func.json_object
        self.arr: Json = func.json_build_array if self.postgres else func.json_array

    def boolean(self, value: bool) -> Any:
        if self.postgres:
            return true() if value else false()
        return func.json("true" if value else "false")

    def day(self, value: date) -> Any:
        return self.obj(_text("$date"), _text(value.isoformat()))

    def message_id(self, now: datetime, subject: Any, domain: str) -> Any:
        """Unique and, within a round, increasing: the unique index on Message-IDs then
        grows at its end instead of splitting pages at random (a third of the insert)."""
        if self.postgres:
            token = func.substr(func.md5(sql_cast(func.random(), String)), 1, 16)
        else:
            token = func.lower(func.hex(func.randomblob(8)))
        stamp = now.strftime("%Y%m%d%H%M%S")
        return (
            _text(f"<{stamp}.") + sql_cast(subject, String) + _text(".") + token
            + _text(f"@{domain}>")
        )  # fmt: skip


def _language(column: Any, occasion: str) -> Any:
    known = available_languages(occasion)
    return case((column.in_(known), column), else_=_text(FALLBACK))


def _per_zone(values: dict[str, int]) -> Any:
    return case({tz: _int(v) for tz, v in values.items()}, value=Country.timezone, else_=_int(0))


def enqueue_round(
    session: Session, settings: Settings, group: ReportRound, *, now: datetime
) -> list[PlannedMessage]:
    """Insert the round's messages not yet in the outbox; return what was new."""
    d = _Dialect(session.get_bind().dialect.name, dialect_insert(session))
    planned = _insert(session, settings, group, d, now=now, copy_for_commission=False)
    if escalated(group.found, settings):
        planned += _insert(session, settings, group, d, now=now, copy_for_commission=True)
    return planned


def _insert(
    session: Session,
    settings: Settings,
    group: ReportRound,
    d: _Dialect,
    *,
    now: datetime,
    copy_for_commission: bool,
) -> list[PlannedMessage]:
    occasion, found, due = group.occasion, group.found, group.due
    escalate = escalated(found, settings)
    city_name = func.coalesce(func.nullif(City.contact_name, ""), City.name)
    address: Any
    name: Any
    language: Any
    if copy_for_commission:
        address, name, language = (
            Country.commission_email,
            Country.commission_name,
            Country.language,
        )
    else:
        address, name, language = City.contact_email, city_name, City.language
    key = (
        _text("report:")
        + sql_cast(Report.id, String)
        + _text(f":{occasion}:{found.name}:")
        + func.lower(address)
    )
    context = d.obj(
        _text("report_id"), Report.id,
        _text("city"), City.name,
        _text("country"), Country.name,
        _text("commission"), Country.commission_name,
        _text("due_on"), d.day(due),
        _text("timezone"), Country.timezone,
        _text("days_left"), _per_zone({tz: (due - t).days for tz, t in group.todays.items()}),
        _text("days_overdue"),
        _per_zone({tz: max((t - due).days, 0) for tz, t in group.todays.items()}),
        _text("escalated"), d.boolean(escalate),
        _text("grace_until"), d.day(due + timedelta(days=settings.reports.grace_days)),
        _text("network"), _text(settings.network.name),
        _text("url"), _text(portal(settings, "/reports/")) + sql_cast(Report.id, String),
        _text("recipient"),
        d.obj(_text("address"), address, _text("name"), name, _text("language"), language),
    )  # fmt: skip
    same = func.lower(Country.commission_email) == func.lower(City.contact_email)
    cc = case((same, d.arr()), else_=d.arr(Country.commission_email)) if escalate else d.arr()
    domain = settings.mail.from_address.rpartition("@")[2] or "localhost"
    rows = (
        select(
            key,
            _text(occasion),
            _text("report"),
            Report.id,
            address,
            d.arr(City.contact_email),
            cc,
            _language(language, occasion),
            _text(""),
            _text(""),
            _text(""),
            context,
            d.message_id(now, Report.id, domain),
            _text(Status.PENDING),
            _int(0),
            literal(now, UTCDateTime()),
            _text(""),
            literal(now, UTCDateTime()),
        )
        .join(Membership, Report.membership_id == Membership.id)
        .join(City, Membership.city_id == City.id)
        .join(Country, City.country_code == Country.code)
        .where(
            *report_pending(),
            Report.due_on == due,
            Country.timezone.in_(list(group.todays)),
            unsent("report", Report.id, occasion, found.name, address),
            ~same if copy_for_commission else true(),
        )
        .order_by(Report.id)
    )
    table = cast(Table, OutboxMessage.__table__)
    columns = [
        "key", "occasion", "subject_type", "subject_id", "recipient", "to_addrs", "cc_addrs",
        "language", "subject", "body_text", "body_html", "context", "message_id", "status",
        "attempts", "next_attempt_at", "last_error", "created_at",
    ]  # fmt: skip
    # Return plain strings: decoding a JSON column for each of 100k rows costs more than
    # the insert; the headers are known for the whole round but for the addresses.
    stmt = (
        d.insert(table)
        .from_select(columns, rows)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(
            table.c.key,
            table.c.language,
            table.c.recipient,
            sql_cast(table.c.to_addrs, String) if copy_for_commission else table.c.recipient,
            sql_cast(table.c.cc_addrs, String) if escalate else _text("[]"),
        )
    )
    planned = []
    for k, lang, recipient, to, cc_ in session.execute(stmt):
        to_addrs = tuple(json.loads(to)) if copy_for_commission else (recipient,)
        planned.append(
            PlannedMessage(occasion, to_addrs, tuple(json.loads(cc_)) if escalate else (), lang, k)
        )
    return planned
