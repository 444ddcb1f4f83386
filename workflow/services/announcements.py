"""Announcements: the Institute's decisions told in batches.

The Institute decides (``decisions.decide``: admit, not admit) and the decision stays
unannounced: the city and its Commission see the application "under review"
(``workflow.visibility.shown_state``) and nobody is mailed. An announcement (the
announcement table in ``workflow.machines``) gathers decided applications while it is a
draft; publishing it on a date, with a title, tells every decision in it at once: each
application takes its internal ``announce_admission`` or ``announce_non_admission`` step,
whose mail goes to the city with a Cc to its Commission, and an admitted city becomes a
member on the announcement's date (its first report is due from that year on). A
decision corrected after publication is the announcement's ``correct`` step (audited,
with a reason) and the application's ``correct_admission`` or ``correct_non_admission``
(the membership ends, or starts on the announcement's date); the city and its
Commission are mailed (``decision_corrected``) and the announcement counts the
correction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from config import Settings
from workflow import events
from workflow.actors import Actor, require_role
from workflow.errors import InvalidInput, NotFound
from workflow.machines import ANNOUNCEMENT
from workflow.models import Announcement, Application, AuditEvent, Call, Membership
from workflow.services import (
    effects,
    memberships,  # noqa: F401 (registers the membership effects)
    transit,
)
from workflow.services.common import audit, check_version, flush, get, publish
from workflow.services.directory import check_one_line
from workflow.snapshots import ApplicationView, read_application
from workflow.states import AnnouncementState as N
from workflow.states import ApplicationState as A
from workflow.states import Role

#: The decisions an announcement tells.
DECISIONS = (A.ADMITTED.value, A.NOT_ADMITTED.value)
#: The step that tells each decision, and the one that corrects it.
ANNOUNCE = {A.ADMITTED.value: "announce_admission", A.NOT_ADMITTED.value: "announce_non_admission"}
CORRECT = {A.ADMITTED.value: "correct_admission", A.NOT_ADMITTED.value: "correct_non_admission"}
#: The decisions' own steps, whose comment the announcement tells.
DECIDING = ("admit", "not_admit", "correct_admission", "correct_non_admission")


def _institute(actor: Actor, doing: str) -> None:
    require_role(actor, Role.INSTITUTE, doing=doing)


def _seer(actor: Actor) -> None:
    require_role(actor, Role.INSTITUTE, Role.ADMIN, doing="see announcements")


def _title(title: str) -> str:
    title = check_one_line(title, "title").strip()
    if not title:
        raise InvalidInput("An announcement needs a title.", "title_missing")
    return title


def create(
    session: Session,
    settings: Settings,
    actor: Actor,
    *,
    title: str = "",
    on: date | None = None,
    now: datetime,
) -> Announcement:
    """A draft announcement (its title and its planned date ``on`` may wait until
    publication, which sets the date for good)."""
    _institute(actor, "start an announcement")
    announcement = Announcement(
        title=check_one_line(title, "title").strip(), date=on, created_at=now, corrected=0
    )
    effects.start(session, settings, ANNOUNCEMENT, announcement, "create", actor, now=now)
    return announcement


def load(
    session: Session, actor: Actor, announcement_id: int, *, lock: bool = False
) -> Announcement:
    _seer(actor)
    return get(session, Announcement, announcement_id, "announcement", lock=lock)


def _draft(session: Session, actor: Actor, announcement_id: int, doing: str) -> Announcement:
    _institute(actor, doing)
    announcement = get(session, Announcement, announcement_id, "announcement", lock=True)
    if announcement.state != N.DRAFT:
        raise InvalidInput(
            f"Announcement {announcement.id} is published; its decisions can only be corrected.",
            "announcement_published",
            key=announcement.id,
        )
    return announcement


def unannounced(session: Session, actor: Actor, *, call: str | None = None) -> list[Application]:
    """Decided applications in no announcement yet (of the call named ``call``)."""
    _seer(actor)
    query = select(Application).where(
        Application.state.in_(DECISIONS),
        Application.announced_at.is_(None),
        Application.announcement_id.is_(None),
    )
    if call:
        query = query.join(Call, Application.call_id == Call.id).where(Call.name == call)
    return list(session.scalars(query.order_by(Application.id)))


def add(
    session: Session,
    settings: Settings,
    actor: Actor,
    announcement_id: int,
    *,
    application_ids: Iterable[int] = (),
    call: str | None = None,
    now: datetime,
) -> list[Application]:
    """Put decided, unannounced applications in a draft announcement: those named, and
    with ``call`` every unannounced decision of that call. Returns those added."""
    announcement = _draft(session, actor, announcement_id, "fill an announcement")
    chosen = [get(session, Application, i, "application", lock=True) for i in application_ids]
    if call:
        if session.scalar(select(Call.id).where(Call.name == call)) is None:
            raise InvalidInput(f"No call {call!r}.", "no_such_call", call=call)
        chosen += [a for a in unannounced(session, actor, call=call) if a not in chosen]
    if not chosen:
        raise InvalidInput("Name the decided applications to add.", "no_decisions_chosen")
    added = []
    for app in chosen:
        if app.state not in DECISIONS or app.announced_at is not None:
            raise InvalidInput(
                f"Application {app.id} is {app.state}: only an unannounced admit or "
                "not-admit decision goes into an announcement.",
                "not_unannounced",
                key=app.id,
                state=app.state,
            )
        if app.announcement_id not in (None, announcement.id):
            raise InvalidInput(
                f"Application {app.id} is in announcement {app.announcement_id} already.",
                "in_other_announcement",
                key=app.id,
                other=app.announcement_id,
            )
        if app.announcement_id is None:
            app.announcement_id = announcement.id
            added.append(app)
            audit(session, actor, subject_type="announcement", subject_id=announcement.id,
                  action="add_decision", now=now, comment=f"application {app.id}")  # fmt: skip
    flush(session, "announcement", announcement.id)
    return added


def remove(
    session: Session, settings: Settings, actor: Actor, announcement_id: int,
    application_id: int, *, now: datetime,
) -> Application:  # fmt: skip
    """Take a decision out of a draft announcement (it stays unannounced)."""
    announcement = _draft(session, actor, announcement_id, "change an announcement")
    app = get(session, Application, application_id, "application", lock=True)
    if app.announcement_id != announcement.id:
        raise InvalidInput(
            f"Application {app.id} is not in announcement {announcement.id}.",
            "not_in_announcement",
            key=app.id,
            announcement=announcement.id,
        )
    app.announcement_id = None
    audit(session, actor, subject_type="announcement", subject_id=announcement.id,
          action="remove_decision", now=now, comment=f"application {app.id}")  # fmt: skip
    flush(session, "announcement", announcement.id)
    return app


def decisions_of(session: Session, announcement_id: int) -> list[Application]:
    return list(session.scalars(_decisions(select(Application), announcement_id)))


def decision_ids(session: Session, announcement_id: int) -> list[int]:
    """The applications an announcement tells, by id (no ORM objects loaded)."""
    return list(session.scalars(_decisions(select(Application.id), announcement_id)))


def _decisions(query: Select[Any], announcement_id: int) -> Select[Any]:
    return query.where(Application.announcement_id == announcement_id).order_by(Application.id)


def city_count(session: Session, announcement: Announcement) -> int:
    """The cities an announcement told: its decisions, or for one recorded before the
    system (imported members, no application) the members imported as admitted that day."""
    told = len(decisions_of(session, announcement.id))
    if told or announcement.date is None or announcement.state == N.DRAFT:
        return told
    return (
        session.scalar(
            select(func.count(Membership.id)).where(
                Membership.application_id.is_(None), Membership.admitted_on == announcement.date
            )
        )
        or 0
    )


def published(session: Session) -> list[tuple[Announcement, list[Application], int]]:
    """For everyone (no sign-in): each published announcement, newest first, with the
    cities it admitted (as they stand after any correction) and its count of cities."""
    found = session.scalars(
        select(Announcement)
        .where(Announcement.state != N.DRAFT)
        .order_by(Announcement.date.desc(), Announcement.id.desc())
    )
    return [
        (
            a,
            [d for d in decisions_of(session, a.id) if d.state == A.ADMITTED],
            city_count(session, a),
        )
        for a in found
    ]


def publish_announcement(
    session: Session,
    settings: Settings,
    actor: Actor,
    announcement_id: int,
    *,
    on: date,
    title: str | None = None,
    now: datetime,
    version: int | None = None,
) -> Announcement:
    """Publish a draft on ``on`` (its date): every decision in it is told at once."""
    announcement = _draft(session, actor, announcement_id, "publish an announcement")
    check_version(announcement, version, "announcement")
    announcement.title = _title(announcement.title if title is None else title)
    if not decisions_of(session, announcement.id):
        raise InvalidInput(
            f"Announcement {announcement.id} has no decisions to tell.",
            "announcement_empty",
            key=announcement.id,
        )
    announcement.date = on
    announcement.published_at = now
    effects.fire_step(
        session, settings, ANNOUNCEMENT, announcement, "publish", actor, now=now, today=on,
        comment=announcement.title,
    )  # fmt: skip
    publish(session, settings)
    flush(session, "announcement", announcement.id)
    return announcement


def _decision_comment(session: Session, app: ApplicationView) -> str:
    """What the Institute said with its decision (the not-admit reason)."""
    found = session.scalars(
        select(AuditEvent.comment)
        .where(
            AuditEvent.subject_type == "application",
            AuditEvent.subject_id == app.id,
            AuditEvent.action.in_(DECIDING),
        )
        .order_by(AuditEvent.id.desc())
    ).first()
    return found or ""


@effects.effect("announce_decisions")
def _announce_decisions(applied: effects.Applied) -> None:
    """The announcement's ``publish``: each decision in it takes its announcing step."""
    announcement: Announcement = applied.record
    session = applied.session
    assert announcement.date is not None
    for app_id in decision_ids(session, announcement.id):
        tell_decision(
            session, applied.settings, applied.actor, app_id, now=applied.now,
            on=announcement.date,
        )  # fmt: skip


def tell_decision(
    session: Session, settings: Settings, actor: Actor, application_id: int, *, now: datetime,
    on: date,
) -> None:  # fmt: skip
    """One decision of a publication takes its announcing step (the city becomes a member
    on ``on``, the announcement's date); the publication tells them all at once."""
    row = read_application(session, application_id)
    assert row is not None, application_id
    transit.fire(
        session, settings, actor, row, ANNOUNCE[row.state], now=now,
        comment=_decision_comment(session, row), changes={"announced_at": now}, today=on,
        publish_now=False,
    )  # fmt: skip


def correct(
    session: Session,
    settings: Settings,
    actor: Actor,
    announcement_id: int,
    application_id: int,
    *,
    reason: str,
    now: datetime,
) -> ApplicationView:
    """Correct a published decision: admitted becomes not admitted (the membership ends)
    or the other way round (the membership starts on the announcement's date)."""
    _institute(actor, "correct an announcement")
    announcement = get(session, Announcement, announcement_id, "announcement", lock=True)
    app = read_application(session, application_id)
    if app is None:
        raise NotFound("application", application_id)
    if announcement.state == N.DRAFT:
        raise InvalidInput(
            f"Announcement {announcement.id} is not published: change the decision itself.",
            "announcement_draft",
            key=announcement.id,
        )
    if app.announcement_id != announcement.id or app.state not in DECISIONS:
        raise InvalidInput(
            f"Application {app.id} is not a decision of announcement {announcement.id}.",
            "not_in_announcement",
            key=app.id,
            announcement=announcement.id,
        )
    reason = reason.strip()
    effects.fire_step(
        session, settings, ANNOUNCEMENT, announcement, "correct", actor, now=now,
        comment=f"application {app.id}: {reason}" if reason else "",
    )  # fmt: skip
    announcement.corrected += 1
    transit.fire(
        session, settings, actor, app, CORRECT[app.state], now=now, comment=reason,
        changes={"decided_at": now}, today=announcement.date, publish_now=False,
    )  # fmt: skip
    pending = session.info.get(events.PENDING, [])
    facts = {"announced_on": announcement.date, "announcement": announcement.title}
    pending[:] = [
        replace(e, facts={**e.facts, **facts}) if e.subject_type == "application" else e
        for e in pending
    ]
    publish(session, settings)
    flush(session, "announcement", announcement.id)
    return app


def announce(
    session: Session,
    settings: Settings,
    actor: Actor,
    application_ids: Iterable[int],
    *,
    on: date,
    title: str,
    now: datetime,
) -> Announcement:
    """Start, fill and publish an announcement in one go (scripts, the demo, tests)."""
    found = create(session, settings, actor, title=title, now=now)
    add(session, settings, actor, found.id, application_ids=application_ids, now=now)
    return publish_announcement(session, settings, actor, found.id, on=on, now=now)


def list_announcements(session: Session, actor: Actor) -> list[Announcement]:
    _seer(actor)
    return list(session.scalars(select(Announcement).order_by(Announcement.id.desc())))


def history(session: Session, actor: Actor, announcement_id: int) -> list[AuditEvent]:
    load(session, actor, announcement_id)
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.subject_type == "announcement",
                AuditEvent.subject_id == announcement_id,
            )
            .order_by(AuditEvent.id)
        )
    )
