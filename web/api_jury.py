"""The JSON API of the expert jury under /api/v1 (``workflow.services.jury``): a juror's
assignments, their scores and declining; the Institute's assignments per call, assigning
by hand and spreading evenly, the review deadline, the ranking, and an application's
scores (blind for a juror until theirs are in). Refusals are the services' own."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from web import accounts
from web.api import PROBLEMS, api_user
from web.portal import portal_of
from web.routing import RetryingRoute
from web.schemas import Id
from web.viewer import Viewer, actor_of
from workflow.errors import InvalidInput
from workflow.models import Application, JuryAssignment
from workflow.services import jury
from workflow.services.common import get
from workflow.states import Role

router = APIRouter(prefix="/api/v1", responses=PROBLEMS, route_class=RetryingRoute)


class AssignmentOut(BaseModel):
    id: int
    application_id: int
    city: str
    country: str
    call: str
    review_deadline: date | None
    juror: str = Field(description="the juror's email")
    state: str = Field(description="assigned, scored or declined")
    assigned_at: datetime
    scored_at: datetime | None
    declined_at: datetime | None
    reason: str = Field(description="why the juror declined")

    @classmethod
    def of(cls, a: JuryAssignment) -> AssignmentOut:
        app = a.application
        return cls(
            id=a.id,
            application_id=app.id,
            city=app.city.name,
            country=app.country_code,
            call=app.call.name,
            review_deadline=app.call.review_deadline,
            juror=a.juror.email,
            state=a.state,
            assigned_at=a.assigned_at,
            scored_at=a.scored_at,
            declined_at=a.declined_at,
            reason=a.reason,
        )


class ScoresIn(BaseModel):
    scores: dict[str, int] = Field(description="criterion -> 1..5, every configured one")
    comments: dict[str, str] = Field(default_factory=dict, description="criterion -> comment")
    recommendation: str = Field(description="admit or not_admit")
    comment: str = Field("", max_length=5000)


class DeclineIn(BaseModel):
    reason: str = Field(max_length=2000, description="why, e.g. a conflict of interest")


class AssignIn(BaseModel):
    application_id: int
    juror: int | str = Field(description="the juror's user id or email")


class SpreadIn(BaseModel):
    per_application: int | None = Field(None, description="default: [jury] setting")


class SpreadOut(BaseModel):
    created: list[AssignmentOut]
    short: dict[int, int] = Field(description="application id -> jurors still missing")


class DeadlineIn(BaseModel):
    review_deadline: date | None


class JurorScoresOut(BaseModel):
    assignment_id: int
    juror: str
    email: str
    state: str
    scores: dict[str, int]
    comments: dict[str, str]
    mean: float | None
    recommendation: str
    comment: str
    reason: str


class ScoresOut(BaseModel):
    application_id: int
    city: str
    country: str
    state: str
    mean: float | None
    spread: float | None
    criteria: dict[str, float | None] = Field(description="criterion -> mean")
    recommendation: str = Field(description="admit, not_admit, tied or empty")
    jurors: list[JurorScoresOut]

    @classmethod
    def of(cls, s: jury.ApplicationScores, criteria: list[str]) -> ScoresOut:
        return cls(
            application_id=s.application_id,
            city=s.city,
            country=s.country_code,
            state=s.state,
            mean=s.mean,
            spread=s.spread,
            criteria={c: s.criterion_mean(c) for c in criteria},
            recommendation=s.recommendation,
            jurors=[
                JurorScoresOut(
                    assignment_id=j.assignment_id,
                    juror=j.juror,
                    email=j.email,
                    state=j.state,
                    scores=j.scores,
                    comments=j.comments,
                    mean=j.mean,
                    recommendation=j.recommendation,
                    comment=j.comment,
                    reason=j.reason,
                )
                for j in s.jurors
            ],
        )


class JurorIn(BaseModel):
    email: str = Field(description="The expert's email: the invitation goes there.")
    name: str
    country_code: str = Field(description="Their own country: never given its cities.")
    language: str = Field("en", description="The language of their mail and pages.")


class JurorOut(BaseModel):
    id: int
    email: str
    name: str
    country_code: str | None


@router.get("/jury/jurors", response_model=list[JurorOut], tags=["jury"])
def list_jurors(request: Request, who: Viewer = Depends(api_user)) -> list[JurorOut]:
    """The active jurors (the Institute, administrators)."""
    portal = portal_of(request)
    with portal.reading() as session:
        return [
            JurorOut(id=u.id, email=u.email, name=u.name, country_code=u.country_code)
            for u in jury.jurors(session, actor_of(who))
        ]


@router.post("/jury/jurors", response_model=JurorOut, status_code=201, tags=["jury"])
def invite_juror(request: Request, body: JurorIn, who: Viewer = Depends(api_user)) -> JurorOut:
    """The Institute invites an expert: a juror's account and its invitation email."""
    portal = portal_of(request)
    with portal.unit() as session:
        user = accounts.invite_juror(
            session,
            portal.settings,
            actor_of(who),
            email=body.email,
            name=body.name,
            country_code=body.country_code,
            language=body.language,
            now=portal.now(),
        )
        return JurorOut(
            id=user.id, email=user.email, name=user.name, country_code=user.country_code
        )


@router.get("/jury/assignments", response_model=list[AssignmentOut], tags=["jury"])
def my_assignments(
    request: Request, who: Viewer = Depends(api_user), call: str = ""
) -> list[AssignmentOut]:
    """A juror: their assignments (declined ones too). The Institute: every assignment of
    ``call``."""
    portal = portal_of(request)
    actor = actor_of(who)
    with portal.reading() as session:
        if actor.role == Role.JUROR:
            rows = jury.assignments_of(session, actor, states=(*jury.OPEN, "declined"))
        else:
            if not call:
                jury.jurors(session, actor)  # the role's refusal first
                raise InvalidInput("Name the call: ?call=<name>.", "call_needed")
            rows = jury.assignments_of_call(session, actor, call)
        return [AssignmentOut.of(a) for a in rows]


@router.post(
    "/jury/assignments/{assignment_id}/scores", response_model=AssignmentOut, tags=["jury"]
)
def submit_scores(
    request: Request, assignment_id: Id, body: ScoresIn, who: Viewer = Depends(api_user)
) -> AssignmentOut:
    """The juror's scores (final once submitted)."""
    portal = portal_of(request)
    with portal.unit() as session:
        record = jury.submit_scores(
            session,
            portal.settings,
            actor_of(who),
            assignment_id,
            scores=body.scores,
            comments=body.comments,
            recommendation=body.recommendation,
            comment=body.comment,
            now=portal.now(),
        )
        return AssignmentOut.of(record)


@router.post(
    "/jury/assignments/{assignment_id}/decline", response_model=AssignmentOut, tags=["jury"]
)
def decline(
    request: Request, assignment_id: Id, body: DeclineIn, who: Viewer = Depends(api_user)
) -> AssignmentOut:
    portal = portal_of(request)
    with portal.unit() as session:
        record = jury.decline(
            session,
            portal.settings,
            actor_of(who),
            assignment_id,
            reason=body.reason,
            now=portal.now(),
        )
        return AssignmentOut.of(record)


@router.post("/jury/calls/{call_name}/assign", response_model=AssignmentOut, tags=["jury"])
def assign(
    request: Request, call_name: str, body: AssignIn, who: Viewer = Depends(api_user)
) -> AssignmentOut:
    """Give one application of the call to one juror."""
    portal = portal_of(request)
    with portal.unit() as session:
        actor = actor_of(who)
        jury.assignments_of_call(session, actor, call_name)  # the role, the call
        app = get(session, Application, body.application_id, "application")
        if app.call.name != call_name:
            raise InvalidInput(
                f"Application {app.id} is not of call {call_name}.", "not_of_call", call=call_name
            )
        record = jury.assign(session, portal.settings, actor, app.id, body.juror, now=portal.now())
        return AssignmentOut.of(record)


@router.post("/jury/calls/{call_name}/spread", response_model=SpreadOut, tags=["jury"])
def spread(
    request: Request, call_name: str, body: SpreadIn, who: Viewer = Depends(api_user)
) -> SpreadOut:
    """Give every reviewable application of the call its jurors, evenly."""
    portal = portal_of(request)
    if body.per_application is not None and body.per_application < 1:
        raise InvalidInput("Give each application at least one juror.", "jurors_too_few")
    with portal.unit() as session:
        done = jury.spread(
            session,
            portal.settings,
            actor_of(who),
            call_name,
            now=portal.now(),
            per_application=body.per_application,
        )
        return SpreadOut(created=[AssignmentOut.of(a) for a in done.created], short=done.short)


@router.put("/jury/calls/{call_name}/review-deadline", response_model=DeadlineIn, tags=["jury"])
def set_deadline(
    request: Request, call_name: str, body: DeadlineIn, who: Viewer = Depends(api_user)
) -> DeadlineIn:
    portal = portal_of(request)
    with portal.unit() as session:
        call = jury.set_review_deadline(
            session, actor_of(who), call_name, body.review_deadline, now=portal.now()
        )
        return DeadlineIn(review_deadline=call.review_deadline)


@router.get("/jury/calls/{call_name}/ranking", tags=["jury"])
def ranking(
    request: Request, call_name: str, who: Viewer = Depends(api_user)
) -> list[dict[str, object]]:
    """The call's ranking: the rows of ranking.csv (rank, application_id, city, country,
    state, jurors_scored, jurors_assigned, mean, spread, a mean per criterion, admit,
    recommendation)."""
    portal = portal_of(request)
    criteria = list(portal.settings.jury.criteria)
    with portal.reading() as session:
        return jury.ranking_rows(jury.ranking(session, actor_of(who), call_name), criteria)


@router.get("/applications/{app_id}/scores", response_model=ScoresOut, tags=["jury"])
def scores_of(request: Request, app_id: Id, who: Viewer = Depends(api_user)) -> ScoresOut:
    """The jury's scores of an application: all of them for the Institute; for a juror
    their own, and the others' once theirs are submitted."""
    portal = portal_of(request)
    with portal.reading() as session:
        found = jury.scores_of(session, actor_of(who), app_id)
        return ScoresOut.of(found, list(portal.settings.jury.criteria))
