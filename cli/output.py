"""Printing for people (Rich tables) and for scripts (JSON), and the ``--as`` actor."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from cli.context import console, emit_json, fail
from workflow.actors import SYSTEM, Actor
from workflow.errors import NotFound
from workflow.models import Application, AuditEvent, Call, Country, Membership, Report
from workflow.states import Role

AsOption = Annotated[
    str,
    typer.Option(
        "--as",
        help="Who acts: a user's email, or admin, institute, system, commission:LV, "
        "city:Jelgava (or city:LV/Jelgava, city:12).",
    ),
]


def resolve_actor(session: Session, who: str) -> Actor:
    """Turn ``--as`` into an Actor, checking that its scope exists."""
    # Imported here: a list that acts as nobody (``gnlc call list``) need not load the
    # directory's services and the workflow machines they bring (8-10 ms).
    from workflow.services import directory, users

    who = who.strip()
    kind, _, ref = who.partition(":")
    kind = kind.lower()
    if "@" in who:
        return users.actor_for(users.user_by_email(session, who))
    if kind == "admin" and not ref:
        return Actor(Role.ADMIN, "administrator")
    if kind == "institute" and not ref:
        return Actor(Role.INSTITUTE, "the Institute")
    if kind == "system" and not ref:
        return SYSTEM
    if kind == "commission" and ref:
        country = session.get(Country, ref.upper())
        if country is None:
            raise NotFound("country", ref)
        return Actor(Role.COMMISSION, country.commission_name, country_code=country.code)
    if kind == "city" and ref:
        city = directory.find_city(session, ref)
        return Actor(
            Role.CITY, f"{city.name} focal point", city_id=city.id, country_code=city.country_code
        )
    fail(f"--as {who!r}: say admin, institute, system, commission:CC, city:NAME or an email.")


def count(n: int, one: str, other: str, locale: str = "en") -> str:
    """``1 city``, ``4 cities``: the noun in the plural form Babel's CLDR rules choose for
    ``n`` (English has two; other languages more, when the CLI speaks them)."""
    from babel import Locale  # imported here: most commands count nothing

    return f"{n:,} {one if Locale.parse(locale).plural_form(n) == 'one' else other}"


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    grid = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*(fmt(v) for v in row))
    console.print(grid)


def application_dict(app: Application) -> dict[str, Any]:
    return {
        "id": app.id,
        "city": app.city.name,
        "country": app.country_code,
        "call": app.call.name,
        "route": app.route,
        "state": app.state,
        "version": app.version,
        "submitted_at": app.submitted_at,
        "endorsed_at": app.endorsed_at,
        "decided_at": app.decided_at,
        "motivation": app.motivation,
        "implementation_plan": app.implementation_plan,
        "challenges": app.challenges,
        "signed_by": app.signed_by,
        "endorsement": app.endorsement,
    }


def call_dict(call: Call) -> dict[str, Any]:
    return {
        "name": call.name,
        "opens_on": call.opens_on,
        "closes_on": call.closes_on,
        "commission_deadline": call.commission_deadline,
        "quota": call.quota,
        "timezone": call.timezone,
        "generated": call.generated,
        "cancelled": call.cancelled_at is not None,
        "cancel_reason": call.cancel_reason,
        "version": call.version,
    }


def report_dict(report: Report) -> dict[str, Any]:
    return {
        "id": report.id,
        "city": report.membership.city.name,
        "due_on": report.due_on,
        "state": report.state,
        "late": report.late,
        "submitted_at": report.submitted_at,
        "version": report.version,
    }


def membership_dict(m: Membership) -> dict[str, Any]:
    return {
        "id": m.id,
        "city": m.city.name,
        "country": m.city.country_code,
        "admitted_on": m.admitted_on,
        "state": m.state,
        "version": m.version,
    }


def event_dict(e: AuditEvent) -> dict[str, Any]:
    return {
        "at": e.at,
        "actor": e.actor_name,
        "role": e.role,
        "action": e.action,
        "from": e.from_state,
        "to": e.to_state,
        "comment": e.comment,
    }


def history_table(events: Sequence[AuditEvent]) -> None:
    table(
        "History",
        ["when", "who", "role", "action", "from", "to", "comment"],
        [
            (e.at, e.actor_name, e.role, e.action, e.from_state, e.to_state, e.comment)
            for e in events
        ],
    )


def show(data: Any, as_json: bool, render: Any) -> None:
    """JSON for scripts, else ``render()`` for people."""
    if as_json:
        emit_json(data)
    else:
        render()
