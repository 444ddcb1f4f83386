"""Messages sent to me: the outbox rows addressed to the signed-in person.

A person reads the messages whose recipient is their own address; a city's people also
those to the city's contact address, a Commission's those to the Commission's address,
the Institute's those to the Institute's address. The rule is in the query
(:func:`addresses_of`, :func:`mailbox`): another address's message is not found, not
hidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from config import Settings
from notifications.models import OutboxMessage
from notifications.outbox import content
from web.portal import portal_of
from web.routing import RetryingRoute, in_loop
from web.schemas import Id
from web.templating import render
from web.viewer import Viewer, actor_of, signed_in
from workflow import views
from workflow.actors import Actor
from workflow.errors import NotFound
from workflow.models import City, Country
from workflow.states import Role

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)

PER_PAGE = 20


@dataclass(frozen=True)
class Letter:
    """One message as the list shows it (subject in the language it was written)."""

    id: int
    at: datetime
    subject: str
    language: str
    status: str
    recipient: str


def addresses_of(session: Session, settings: Settings, actor: Actor, email: str) -> list[str]:
    """The addresses whose messages ``actor`` may read, lower-cased."""
    found = {email}
    if actor.role is Role.CITY and actor.city_id is not None:
        city = session.get(City, actor.city_id)
        if city is not None:
            found.add(city.contact_email)
    elif actor.role is Role.COMMISSION and actor.country_code:
        country = session.get(Country, actor.country_code)
        if country is not None:
            found.add(country.commission_email)
    elif actor.role is Role.INSTITUTE:
        found.add(settings.network.institute_address)
    return sorted({a.strip().lower() for a in found if a and a.strip()})


def _to(addresses: Sequence[str]) -> ColumnElement[bool]:
    return func.lower(OutboxMessage.recipient).in_(list(addresses))


def _letter(row: OutboxMessage) -> Letter:
    subject = row.subject or content(row).subject
    return Letter(
        id=row.id,
        at=row.sent_at or row.created_at,
        subject=subject,
        language=row.language,
        status=row.status,
        recipient=row.recipient,
    )


def mailbox(
    session: Session, addresses: Sequence[str], *, limit: int = PER_PAGE, offset: int = 0
) -> tuple[int, list[Letter]]:
    """How many messages went to ``addresses``, and ``limit`` of them, newest first."""
    if not addresses:
        return 0, []
    total = session.scalar(select(func.count()).select_from(OutboxMessage).where(_to(addresses)))
    rows = session.scalars(
        select(OutboxMessage)
        .where(_to(addresses))
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return total or 0, [_letter(r) for r in rows]


def latest(session: Session, settings: Settings, who: Viewer, count: int = 3) -> list[Letter]:
    """The newest few messages for ``who`` (the city's home page)."""
    addresses = addresses_of(session, settings, actor_of(who), who.email)
    return mailbox(session, addresses, limit=count)[1]


@router.get("/messages")
@in_loop
def message_list(request: Request, who: Viewer = Depends(signed_in), page: str = "1") -> Response:
    portal = portal_of(request)
    number = int(page) if page.isdigit() else 1
    with portal.reading() as session:
        addresses = addresses_of(session, portal.settings, actor_of(who), who.email)
        total, _ = mailbox(session, addresses, limit=0)
        pager = views.page_of(number, total, PER_PAGE)
        _, letters = mailbox(session, addresses, limit=pager.size, offset=pager.offset)
    context = {"letters": letters, "pager": pager, "addresses": addresses}
    return render(request, "messages/list.html", context)


@router.get("/messages/{message_id}")
@in_loop
def message_page(request: Request, message_id: Id, who: Viewer = Depends(signed_in)) -> Response:
    portal = portal_of(request)
    with portal.reading() as session:
        addresses = addresses_of(session, portal.settings, actor_of(who), who.email)
        row = session.scalars(
            select(OutboxMessage).where(OutboxMessage.id == message_id, _to(addresses))
        ).one_or_none()
        if row is None:
            raise NotFound("message", message_id)
        text = content(row)
        letter = _letter(row)
        to, cc = list(row.to_addrs), list(row.cc_addrs)
    context = {"letter": letter, "text": text.text, "to": to, "cc": cc}
    return render(request, "messages/detail.html", context)
