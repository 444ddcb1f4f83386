"""Report reminders written set-based: one INSERT ... SELECT per round and recipient rule.

On a day when a hundred thousand members are owed the same reminder, building a Python
object per message would dominate the sweep. Every message of one round shares its
occasion, round and dates; what differs (the report, the city, its address and language)
is in the joined rows. So the database builds each outbox row itself: the key, the
headers, the Message-ID and the template context as JSON, exactly as
``notifications.outbox.rows_for(..., render_now=False)`` would for the Owed items of
``notifications.reminders.iter_report_reminders`` (a test compares the two), skipping
keys already present. The dispatcher renders each message when it sends it.

Both paths read the occasion's row of :mod:`notifications.table`: its To and Cc rules
(here as :data:`~notifications.table.SQL_RULES` columns), its context builder
(:func:`notifications.contexts.report_reminder`, evaluated here over SQL terms) and the
outbox key (:func:`notifications.outbox.key_sql`, the SQL twin of ``message_key``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Integer, String, Table, case, false, func, literal, select, true
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from config import Settings
from notifications import table
from notifications.models import OutboxMessage
from notifications.outbox import Status, key_sql
from notifications.reminders import unsent
from notifications.render import FALLBACK, available_languages
from workflow.db import dialect_insert
from workflow.events import Planned
from workflow.models import City, Country, Membership, Report, UTCDateTime
from workflow.reminders import ReportRound, escalated, report_pending

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

    def names_json(self, column: Any) -> Any:
        """A JSON column as a JSON value inside :attr:`obj` (SQLite keeps it as text)."""
        return column if self.postgres else func.json(column)

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


class _Terms:
    """:class:`notifications.contexts.Terms` as SQL over a report joined to its city."""

    def __init__(self, d: _Dialect) -> None:
        self.d = d
        self.report_id: Any = Report.id
        self.city_name: Any = City.name
        self.city_names: Any = d.names_json(City.names)
        self.country_name: Any = Country.name
        self.country_code: Any = Country.code
        self.commission_name: Any = Country.commission_name
        self.commission_names: Any = d.names_json(Country.commission_names)
        self.timezone: Any = Country.timezone

    def day(self, value: date) -> Any:
        return self.d.day(value)

    def per_zone(self, values: Mapping[str, int]) -> Any:
        return case(
            {tz: _int(v) for tz, v in values.items()}, value=Country.timezone, else_=_int(0)
        )

    def boolean(self, value: bool) -> Any:
        return self.d.boolean(value)

    def text(self, value: str) -> Any:
        return _text(value)

    def names(self, values: Mapping[str, str]) -> Any:
        return self.d.obj(*(t for k, v in sorted(values.items()) for t in (_text(k), _text(v))))

    def url(self, prefix: str, key: Any) -> Any:
        return _text(prefix) + sql_cast(key, String)


def enqueue_round(
    session: Session, settings: Settings, group: ReportRound, *, now: datetime
) -> list[Planned]:
    """Insert the round's messages not yet in the outbox; return what was new.

    One statement per recipient rule of the occasion's table row that applies (a rule
    of ``ON_ESCALATION`` only once the round is escalated); a copy whose address equals
    an earlier rule's is not sent twice.
    """
    d = _Dialect(session.get_bind().dialect.name, dialect_insert(session))
    mail = table.REMINDERS[group.occasion]
    if len(mail.to) != 1 or len(mail.cc) > 1:
        raise ValueError(f"{mail.occasion}: the set-based path takes one To and at most one Cc")
    late = escalated(group.found, settings)
    rules = [r for r in (*mail.to, *mail.cc) if late or r not in table.ON_ESCALATION]
    planned: list[Planned] = []
    for number in range(len(rules)):
        planned += _insert(session, settings, group, d, now=now, rules=rules, copy=number)
    return planned


def _insert(
    session: Session,
    settings: Settings,
    group: ReportRound,
    d: _Dialect,
    *,
    now: datetime,
    rules: list[str],
    copy: int,
) -> list[Planned]:
    mail = table.REMINDERS[group.occasion]
    occasion, found, due = mail.occasion, group.found, group.due
    address, name, language = table.SQL_RULES[rules[copy]]
    to_address = table.SQL_RULES[rules[0]][0]
    cc_rules = [r for r in rules[1:] if r in mail.cc]
    key = key_sql("report", Report.id, occasion, found.name, address)
    terms = mail.context(_Terms(d), settings, group)
    pairs = [part for item in terms.items() for part in (_text(item[0]), item[1])]
    context = d.obj(
        *pairs,
        _text("recipient"),
        d.obj(_text("address"), address, _text("name"), name, _text("language"), language),
    )
    cc: Any = d.arr()
    if cc_rules:
        cc_address = table.SQL_RULES[cc_rules[0]][0]
        same_as_to = func.lower(cc_address) == func.lower(to_address)
        cc = case((same_as_to, d.arr()), else_=d.arr(cc_address))
    earlier = [table.SQL_RULES[r][0] for r in rules[:copy]]
    repeated = [func.lower(address) == func.lower(e) for e in earlier]
    domain = settings.mail.from_address.rpartition("@")[2] or "localhost"
    rows = (
        select(
            key,
            _text(occasion),
            _text("report"),
            Report.id,
            address,
            d.arr(to_address),
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
            *(~same for same in repeated),
        )
        .order_by(Report.id)
    )
    table_ = cast(Table, OutboxMessage.__table__)
    columns = [
        "key", "occasion", "subject_type", "subject_id", "recipient", "to_addrs", "cc_addrs",
        "language", "subject", "body_text", "body_html", "context", "message_id", "status",
        "attempts", "next_attempt_at", "last_error", "created_at",
    ]  # fmt: skip
    # Return plain strings: decoding a JSON column for each of 100k rows costs more than
    # the insert; the headers are known for the whole round but for the addresses.
    to_is_recipient = copy == 0
    stmt = (
        d.insert(table_)
        .from_select(columns, rows)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(
            table_.c.key,
            table_.c.language,
            table_.c.recipient,
            table_.c.recipient if to_is_recipient else sql_cast(table_.c.to_addrs, String),
            sql_cast(table_.c.cc_addrs, String) if cc_rules else _text("[]"),
        )
    )
    planned = []
    for k, lang, recipient, to, cc_ in session.execute(stmt):
        to_addrs = (recipient,) if to_is_recipient else tuple(json.loads(to))
        planned.append(
            Planned(occasion, to_addrs, tuple(json.loads(cc_)) if cc_rules else (), lang, k)
        )
    return planned
