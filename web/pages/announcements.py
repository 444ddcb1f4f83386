"""Announcements in the portal, for the Institute (administrators read them):
``/announcements`` lists the drafts and the published ones and starts a new one;
``/announcements/N`` shows its decisions and, while a draft, adds the decided but
unannounced applications (filtered by call) or removes one; publishing and correcting
each open a confirmation page first, since neither can be undone. The services are
:mod:`workflow.services.announcements` (the same as the API and ``gnlc announcement``).
Post-Redirect-Get (:mod:`web.flash`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web import flash
from web.pages.admin_kit import refused, strings
from web.portal import portal_of
from web.routing import RetryingRoute, in_loop
from web.schemas import Id
from web.templating import render
from web.viewer import Viewer, actor_of, checked_form, signed_in
from workflow.actors import Actor
from workflow.errors import InvalidInput, WorkflowError
from workflow.models import Announcement, Application
from workflow.services import announcements as service
from workflow.services import jury
from workflow.states import AnnouncementState as N
from workflow.states import ApplicationState as A

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)

#: What ``?done=`` may say after an action here (``done.<id>`` in the catalogues).
DONE = (
    "announcement_created",
    "announcement_added",
    "announcement_removed",
    "announcement_published",
    "announcement_corrected",
)
#: ``application 7: the reason`` (the announcement's ``correct`` in the audit log).
_CORRECTION = re.compile(r"application (\d+): (.*)", re.S)


@dataclass(frozen=True)
class Decision:
    """One application of an announcement, as its page shows it."""

    app: Application
    #: the jury's recommendation: admit, not_admit, tied, or "" without scores
    jury: str


@dataclass(frozen=True)
class Correction:
    at: Any
    actor: str
    application_id: int | None
    reason: str


def _decisions(session: Session, actor: Actor, apps: list[Application]) -> list[Decision]:
    return [Decision(app, jury.scores_of(session, actor, app.id).recommendation) for app in apps]


def _done(request: Request) -> str:
    done = request.query_params.get("done", "")
    return done if done in DONE else ""


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("A date is YYYY-MM-DD.", "not_date", field="announcement.date") from None


def _ids(form: FormData, name: str) -> list[int]:
    found = [v for v in form.getlist(name) if isinstance(v, str)]
    return [int(v) for v in found if v.isdigit() and len(v) < 10]


def _version(values: dict[str, str]) -> int | None:
    raw = values.get("version", "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


@router.get("/announcements")
@in_loop
def announcement_list(request: Request, who: Viewer = Depends(signed_in)) -> Response:
    portal = portal_of(request)
    values = flash.kept(request)
    with portal.reading() as session:
        found = service.list_announcements(session, actor_of(who))
        counts = {a.id: service.city_count(session, a) for a in found}
        context = {
            "drafts": [a for a in found if a.state == N.DRAFT],
            "published": [a for a in found if a.state != N.DRAFT],
            "counts": counts,
            "values": values,
            "waiting": len(service.unannounced(session, actor_of(who))),
            "done": _done(request),
        }
        return render(request, "announcements/list.html", context)


@router.post("/announcements")
def announcement_create(
    request: Request, who: Viewer = Depends(signed_in), form: FormData = Depends(checked_form)
) -> Response:
    portal = portal_of(request)
    values = strings(form)
    try:
        on = _day(values["date"]) if values.get("date", "").strip() else None
        with portal.unit() as session:
            found = service.create(
                session,
                portal.settings,
                actor_of(who),
                title=values.get("title", ""),
                on=on,
                now=portal.now(),
            )
            session.flush()
            key = found.id
    except WorkflowError as exc:
        return refused(request, exc, "/announcements", values)
    return RedirectResponse(f"/announcements/{key}?done=announcement_created", status_code=303)


@router.get("/announcements/public")
def public_announcements(request: Request) -> Response:
    """Published announcements and the cities they admitted, for everyone (no sign-in)."""
    with portal_of(request).reading() as session:
        found = service.published(session)
        return render(request, "announcements/public.html", {"announcements": found})


@router.get("/announcements/{announcement_id}")
def announcement_page(
    request: Request, announcement_id: Id, who: Viewer = Depends(signed_in)
) -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    call = request.query_params.get("call", "").strip()
    with portal.reading() as session:
        found = service.load(session, actor, announcement_id)
        decisions = _decisions(session, actor, service.decisions_of(session, found.id))
        waiting: list[Decision] = []
        calls: list[str] = []
        if found.state == N.DRAFT:
            every = service.unannounced(session, actor)
            calls = sorted({a.call.name for a in every})
            chosen = [a for a in every if not call or a.call.name == call]
            waiting = _decisions(session, actor, chosen)
        corrections = _corrections(service.history(session, actor, found.id))
        context = {
            "a": found,
            "decisions": decisions,
            "waiting": waiting,
            "calls": calls,
            "call": call,
            "corrections": corrections,
            "draft": found.state == N.DRAFT,
            "done": _done(request),
        }
        return render(request, "announcements/detail.html", context)


def _corrections(history: list[Any]) -> list[Correction]:
    found = []
    for event in history:
        if event.action != "correct":
            continue
        match = _CORRECTION.fullmatch(event.comment or "")
        key, reason = (int(match.group(1)), match.group(2)) if match else (None, event.comment)
        found.append(Correction(event.at, event.actor_name, key, reason))
    return found


@router.post("/announcements/{announcement_id}/add")
def announcement_add(
    request: Request,
    announcement_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    back = f"/announcements/{announcement_id}"
    try:
        chosen = _ids(form, "application")
        if not chosen:
            raise InvalidInput("Choose at least one decision.", "no_decisions_chosen")
        with portal.unit() as session:
            service.add(
                session,
                portal.settings,
                actor_of(who),
                announcement_id,
                application_ids=chosen,
                now=portal.now(),
            )
    except WorkflowError as exc:
        return refused(request, exc, back)
    return RedirectResponse(f"{back}?done=announcement_added", status_code=303)


@router.post("/announcements/{announcement_id}/remove/{application_id}")
def announcement_remove(
    request: Request,
    announcement_id: Id,
    application_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    back = f"/announcements/{announcement_id}"
    try:
        with portal.unit() as session:
            service.remove(
                session,
                portal.settings,
                actor_of(who),
                announcement_id,
                application_id,
                now=portal.now(),
            )
    except WorkflowError as exc:
        return refused(request, exc, back)
    return RedirectResponse(f"{back}?done=announcement_removed", status_code=303)


@router.get("/announcements/{announcement_id}/publish")
def publish_page(
    request: Request, announcement_id: Id, who: Viewer = Depends(signed_in)
) -> Response:
    portal = portal_of(request)
    values = flash.kept(request)
    actor = actor_of(who)
    with portal.reading() as session:
        found = service.load(session, actor, announcement_id)
        if found.state != N.DRAFT:
            return RedirectResponse(f"/announcements/{found.id}", status_code=303)
        apps = service.decisions_of(session, found.id)
        admitted = sum(1 for a in apps if a.state == A.ADMITTED)
        context = {
            "a": found,
            "cities": len(apps),
            "admitted": admitted,
            "not_admitted": len(apps) - admitted,
            "values": values,
            "today": portal.now().date(),
        }
        return render(request, "announcements/publish.html", context)


@router.post("/announcements/{announcement_id}/publish")
def publish(
    request: Request,
    announcement_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    values = strings(form)
    back = f"/announcements/{announcement_id}/publish"
    try:
        on = _day(values.get("date", ""))
        with portal.unit() as session:
            service.publish_announcement(
                session,
                portal.settings,
                actor_of(who),
                announcement_id,
                on=on,
                title=values.get("title", ""),
                now=portal.now(),
                version=_version(values),
            )
    except WorkflowError as exc:
        return refused(request, exc, back, values)
    return RedirectResponse(
        f"/announcements/{announcement_id}?done=announcement_published", status_code=303
    )


def _decision_in(session: Session, found: Announcement, application_id: int) -> Application:
    app = session.scalars(
        select(Application).where(
            Application.id == application_id, Application.announcement_id == found.id
        )
    ).first()
    if app is None:
        raise InvalidInput(
            f"Application {application_id} is not a decision of announcement {found.id}.",
            "not_in_announcement",
            key=application_id,
            announcement=found.id,
        )
    return app


@router.get("/announcements/{announcement_id}/correct/{application_id}")
def correct_page(
    request: Request, announcement_id: Id, application_id: Id, who: Viewer = Depends(signed_in)
) -> Response:
    portal = portal_of(request)
    values = flash.kept(request)
    actor = actor_of(who)
    with portal.reading() as session:
        found = service.load(session, actor, announcement_id)
        app = _decision_in(session, found, application_id)
        context = {
            "a": found,
            "app": app,
            "becomes": A.NOT_ADMITTED if app.state == A.ADMITTED else A.ADMITTED,
            "values": values,
        }
        return render(request, "announcements/correct.html", context)


@router.post("/announcements/{announcement_id}/correct/{application_id}")
def correct(
    request: Request,
    announcement_id: Id,
    application_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    values = strings(form)
    back = f"/announcements/{announcement_id}/correct/{application_id}"
    try:
        with portal.unit() as session:
            service.correct(
                session,
                portal.settings,
                actor_of(who),
                announcement_id,
                application_id,
                reason=values.get("reason", ""),
                now=portal.now(),
            )
    except WorkflowError as exc:
        return refused(request, exc, back, values)
    return RedirectResponse(
        f"/announcements/{announcement_id}?done=announcement_corrected", status_code=303
    )
