"""The JSON API of announcements under /api/v1 (``workflow.services.announcements``, the
same services as the portal and ``gnlc announcement``): list, create, one announcement
with its decisions and corrections, add and remove decisions while it is a draft,
publish on a date, correct a published decision with a reason. The Institute acts;
administrators read. Refusals are problem+json like every other API answer."""

from __future__ import annotations

from datetime import date as Day
from datetime import datetime
from enum import Enum

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from web.api import PROBLEMS, api_user
from web.portal import portal_of
from web.routing import RetryingRoute
from web.schemas import Id
from web.viewer import Viewer, actor_of
from workflow.actors import Actor
from workflow.models import Announcement
from workflow.services import announcements as service
from workflow.services import jury

router = APIRouter(prefix="/api/v1", responses=PROBLEMS, route_class=RetryingRoute)
TAGS: list[str | Enum] = ["announcements"]


class AnnouncementIn(BaseModel):
    title: str = Field(default="", max_length=200)
    date: Day | None = Field(default=None, description="The planned date (set at publication).")


class DecisionsIn(BaseModel):
    application_ids: list[int] = Field(default_factory=list, max_length=1000)
    call: str | None = Field(
        default=None, max_length=100, description="Every unannounced decision of this call."
    )


class PublishIn(BaseModel):
    date: Day
    title: str | None = Field(default=None, max_length=200)
    version: int | None = Field(default=None, ge=0, le=2_147_483_647)


class CorrectIn(BaseModel):
    reason: str = Field(max_length=2000)


class DecisionOut(BaseModel):
    application_id: int
    city: str
    country: str
    call: str
    decision: str = Field(description="admitted or not_admitted")
    jury_recommendation: str = Field(description="admit, not_admit, tied, or '' without scores")


class CorrectionOut(BaseModel):
    at: datetime
    actor: str
    comment: str


class AnnouncementOut(BaseModel):
    id: int
    title: str
    date: Day | None
    state: str = Field(description="draft, published or corrected")
    version: int
    published_at: datetime | None
    corrected: int = Field(description="How many decisions were corrected after publication.")
    cities: int


class AnnouncementDetailOut(AnnouncementOut):
    decisions: list[DecisionOut]
    corrections: list[CorrectionOut]


def _out(session: Session, found: Announcement) -> AnnouncementOut:
    return AnnouncementOut(
        id=found.id,
        title=found.title,
        date=found.date,
        state=found.state,
        version=found.version,
        published_at=found.published_at,
        corrected=found.corrected,
        cities=service.city_count(session, found),
    )


def _detail(session: Session, actor: Actor, found: Announcement) -> AnnouncementDetailOut:
    session.flush()
    decisions = [
        DecisionOut(
            application_id=a.id,
            city=a.city.name,
            country=a.country_code,
            call=a.call.name,
            decision=a.state,
            jury_recommendation=jury.scores_of(session, actor, a.id).recommendation,
        )
        for a in service.decisions_of(session, found.id)
    ]
    corrections = [
        CorrectionOut(at=e.at, actor=e.actor_name, comment=e.comment)
        for e in service.history(session, actor, found.id)
        if e.action == "correct"
    ]
    return AnnouncementDetailOut(
        **_out(session, found).model_dump(), decisions=decisions, corrections=corrections
    )


@router.get("/announcements", response_model=list[AnnouncementOut], tags=TAGS)
def list_announcements(request: Request, who: Viewer = Depends(api_user)) -> list[AnnouncementOut]:
    """Every announcement, newest first (the Institute and administrators)."""
    portal = portal_of(request)
    with portal.reading() as session:
        return [_out(session, a) for a in service.list_announcements(session, actor_of(who))]


@router.post("/announcements", response_model=AnnouncementDetailOut, status_code=201, tags=TAGS)
def create_announcement(
    request: Request, body: AnnouncementIn, who: Viewer = Depends(api_user)
) -> AnnouncementDetailOut:
    """Start a draft announcement (its title and date may wait until publication)."""
    portal = portal_of(request)
    actor = actor_of(who)
    with portal.unit() as session:
        found = service.create(
            session, portal.settings, actor, title=body.title, on=body.date, now=portal.now()
        )
        session.flush()
        return _detail(session, actor, found)


@router.get("/announcements/unannounced", response_model=list[DecisionOut], tags=TAGS)
def unannounced(
    request: Request, who: Viewer = Depends(api_user), call: str | None = None
) -> list[DecisionOut]:
    """Decided applications that no announcement holds yet (of one call)."""
    portal = portal_of(request)
    actor = actor_of(who)
    with portal.reading() as session:
        return [
            DecisionOut(
                application_id=a.id,
                city=a.city.name,
                country=a.country_code,
                call=a.call.name,
                decision=a.state,
                jury_recommendation=jury.scores_of(session, actor, a.id).recommendation,
            )
            for a in service.unannounced(session, actor, call=call)
        ]


@router.get("/announcements/{announcement_id}", response_model=AnnouncementDetailOut, tags=TAGS)
def show_announcement(
    request: Request, announcement_id: Id, who: Viewer = Depends(api_user)
) -> AnnouncementDetailOut:
    """One announcement, its decisions (with the jury's recommendation) and corrections."""
    portal = portal_of(request)
    actor = actor_of(who)
    with portal.reading() as session:
        return _detail(session, actor, service.load(session, actor, announcement_id))


@router.post(
    "/announcements/{announcement_id}/decisions",
    response_model=AnnouncementDetailOut,
    tags=TAGS,
)
def add_decisions(
    request: Request, announcement_id: Id, body: DecisionsIn, who: Viewer = Depends(api_user)
) -> AnnouncementDetailOut:
    """Add decided, unannounced applications (by number, or every one of a call)."""
    portal = portal_of(request)
    actor = actor_of(who)
    with portal.unit() as session:
        service.add(
            session,
            portal.settings,
            actor,
            announcement_id,
            application_ids=body.application_ids,
            call=body.call,
            now=portal.now(),
        )
        return _detail(session, actor, service.load(session, actor, announcement_id))


@router.delete(
    "/announcements/{announcement_id}/decisions/{application_id}",
    response_model=AnnouncementDetailOut,
    tags=TAGS,
)
def remove_decision(
    request: Request, announcement_id: Id, application_id: Id, who: Viewer = Depends(api_user)
) -> AnnouncementDetailOut:
    """Take a decision out of a draft announcement (it waits for another one)."""
    portal = portal_of(request)
    actor = actor_of(who)
    with portal.unit() as session:
        service.remove(
            session, portal.settings, actor, announcement_id, application_id, now=portal.now()
        )
        return _detail(session, actor, service.load(session, actor, announcement_id))


@router.post(
    "/announcements/{announcement_id}/publish",
    response_model=AnnouncementDetailOut,
    tags=TAGS,
)
def publish(
    request: Request, announcement_id: Id, body: PublishIn, who: Viewer = Depends(api_user)
) -> AnnouncementDetailOut:
    """Publish on ``date``: every decision is told (mail to the city, Cc its Commission)
    and admitted cities become members on that date. Cannot be undone."""
    portal = portal_of(request)
    actor = actor_of(who)
    with portal.unit() as session:
        found = service.publish_announcement(
            session,
            portal.settings,
            actor,
            announcement_id,
            on=body.date,
            title=body.title,
            now=portal.now(),
            version=body.version,
        )
        return _detail(session, actor, found)


@router.post(
    "/announcements/{announcement_id}/decisions/{application_id}/correct",
    response_model=AnnouncementDetailOut,
    tags=TAGS,
)
def correct(
    request: Request,
    announcement_id: Id,
    application_id: Id,
    body: CorrectIn,
    who: Viewer = Depends(api_user),
) -> AnnouncementDetailOut:
    """Correct a published decision with a reason: admitted becomes not admitted (the
    membership ends) or the other way (it starts on the announcement's date)."""
    portal = portal_of(request)
    actor = actor_of(who)
    with portal.unit() as session:
        service.correct(
            session,
            portal.settings,
            actor,
            announcement_id,
            application_id,
            reason=body.reason,
            now=portal.now(),
        )
        return _detail(session, actor, service.load(session, actor, announcement_id))
