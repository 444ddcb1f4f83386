"""The expert jury: the Institute assigns jurors to the forwarded applications of a call,
jurors score them blind, the Institute reads the scores and a ranking.

- A juror is a user of role ``juror`` whose country is their own: they are never given an
  application of a city of that country (a conflict of interest).
- Each assignment is a record of the ``assignment`` machine (``workflow.machines``):
  ``assign`` creates it, the juror fires ``submit_scores`` or ``decline_assignment`` (with
  a reason). A declined application is assigned again to another juror.
- Scores: every criterion of ``[jury] criteria``, 1-5 with a comment, and a
  recommendation (admit / not admit). Blind: a juror reads the other jurors' scores of an
  application only once their own are submitted.
- The Institute reads each application's scores by juror, the mean and the spread (the
  highest juror's mean less the lowest's), the ranking of a call by mean, and the jury's
  recommendation (the majority of the jurors' recommendations), which the decision
  records in the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from statistics import fmean

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config import Settings
from workflow.actors import Actor, require_role
from workflow.errors import InvalidInput, NotAllowed, NotFound
from workflow.machines import ASSIGNMENT
from workflow.models import Application, Call, City, JuryAssignment, JuryScore, User
from workflow.services.common import audit, fire, flush, get, publish, recorded
from workflow.snapshots import ApplicationView
from workflow.states import ApplicationState as A
from workflow.states import AssignmentState as J
from workflow.states import Role

#: The criteria of config/defaults.toml ``[jury] criteria`` (the public admission
#: criteria); their words are ``jury.criterion.<id>`` in the catalogues.
DEFAULT_CRITERIA = ("commitment", "good_practice", "vision", "implementation_plan", "monitoring")
#: The states of an application the jury reviews.
REVIEWABLE = (A.FORWARDED.value, A.UNDER_REVIEW.value)
#: A juror's recommendation.
RECOMMENDATIONS = ("admit", "not_admit")
LOWEST, HIGHEST = 1, 5
#: Assignments that count: not declined.
OPEN = (J.ASSIGNED.value, J.SCORED.value)

STAFF = (Role.INSTITUTE, Role.ADMIN)


# ---------------------------------------------------------------- who may see what


def require_assigned(session: Session, actor: Actor, application_id: int) -> JuryAssignment:
    """The juror's own (not declined) assignment of the application, or a refusal."""
    found = session.scalars(
        select(JuryAssignment).where(
            JuryAssignment.application_id == application_id,
            JuryAssignment.juror_id == actor.user_id,
            JuryAssignment.state.in_(OPEN),
        )
    ).first()
    if found is None:
        raise NotAllowed(
            "A juror sees only the applications assigned to them, not this application.",
            "not_assigned",
            kind="application",
        )
    return found


# ---------------------------------------------------------------- jurors and assignments


def jurors(session: Session, actor: Actor) -> list[User]:
    """The active jurors, by email."""
    require_role(actor, *STAFF, doing="see the jurors")
    return list(
        session.scalars(
            select(User).where(User.role == Role.JUROR.value, User.active).order_by(User.email)
        )
    )


def _juror(session: Session, juror: int | str) -> User:
    if isinstance(juror, int):
        user = session.get(User, juror)
    else:
        user = session.scalars(select(User).where(User.email == juror.strip().lower())).first()
    if user is None:
        raise NotFound("user", juror)
    if user.role != Role.JUROR.value or not user.active:
        raise InvalidInput(f"{user.email} is not an active juror.", "not_juror", email=user.email)
    return user


def _call(session: Session, call_name: str) -> Call:
    call = session.scalars(select(Call).where(Call.name == call_name)).first()
    if call is None:
        raise NotFound("call", call_name)
    return call


def _check_assignable(session: Session, app: Application, juror: User) -> None:
    if app.state not in REVIEWABLE:
        raise InvalidInput(
            f"Application {app.id} is {app.state}: jurors review forwarded applications "
            "and those under review.",
            "not_reviewable",
            state=app.state,
        )
    if juror.country_code == app.country_code:
        raise InvalidInput(
            f"{juror.email} is from {app.country_code}, the country of this city: a juror "
            "never reviews an application of their own country.",
            "own_country",
            email=juror.email,
            country=app.country_code,
        )
    earlier = session.scalars(
        select(JuryAssignment).where(
            JuryAssignment.application_id == app.id, JuryAssignment.juror_id == juror.id
        )
    ).first()
    if earlier is not None:
        raise InvalidInput(
            f"{juror.email} was given application {app.id} already ({earlier.state}).",
            "already_assigned",
            email=juror.email,
            state=earlier.state,
        )


def assign(
    session: Session,
    settings: Settings,
    actor: Actor,
    application_id: int,
    juror: int | str,
    *,
    now: datetime,
) -> JuryAssignment:
    """Give one application to one juror (by user id or email)."""
    require_role(actor, *STAFF, doing="assign jurors")
    app = get(session, Application, application_id, "application", lock=True)
    user = _juror(session, juror)
    _check_assignable(session, app, user)
    return _create(session, settings, actor, app, user, now)


def _create(
    session: Session,
    settings: Settings,
    actor: Actor,
    app: Application,
    juror: User,
    now: datetime,
) -> JuryAssignment:
    step = ASSIGNMENT.resolve_start("assign", actor.role, kind="assignment")
    record = JuryAssignment(
        application_id=app.id,
        juror_id=juror.id,
        state=step.dest.value,
        assigned_at=now,
        assigned_by=actor.user_id,
    )
    session.add(record)
    flush(session, "assignment", f"{app.id}/{juror.email}")
    recorded(
        session,
        actor,
        "assignment",
        record.id,
        "assign",
        None,
        step,
        now,
        f"application {app.id} to {juror.email}",
    )
    publish(session, settings)
    return record


@dataclass(frozen=True)
class Spread:
    """What ``spread`` did: the new assignments, and the applications still short of
    jurors (no juror of another country left)."""

    created: list[JuryAssignment]
    short: dict[int, int]  # application id -> jurors missing


def spread(
    session: Session,
    settings: Settings,
    actor: Actor,
    call_name: str,
    *,
    now: datetime,
    per_application: int | None = None,
) -> Spread:
    """Give every reviewable application of the call ``per_application`` jurors
    (default ``[jury] jurors_per_application``), counting those it has, each time to the
    juror with the fewest open assignments in the call (then by id), never one of the
    city's country nor one who had it before."""
    require_role(actor, *STAFF, doing="assign jurors")
    wanted = per_application or settings.jury.jurors_per_application
    if wanted < 1:
        raise InvalidInput("Give each application at least one juror.", "jurors_too_few")
    call = _call(session, call_name)
    apps = list(
        session.scalars(
            select(Application)
            .where(Application.call_id == call.id, Application.state.in_(REVIEWABLE))
            .order_by(Application.id)
        )
    )
    pool = jurors(session, actor)
    taken: dict[int, set[int]] = {a.id: set() for a in apps}
    load: dict[int, int] = {j.id: 0 for j in pool}
    for row in session.scalars(
        select(JuryAssignment)
        .join(Application, JuryAssignment.application_id == Application.id)
        .where(Application.call_id == call.id)
    ):
        taken.setdefault(row.application_id, set()).add(row.juror_id)
        if row.state in OPEN and row.juror_id in load:
            load[row.juror_id] += 1
    open_count = {
        a.id: session.scalar(
            select(func.count())
            .select_from(JuryAssignment)
            .where(JuryAssignment.application_id == a.id, JuryAssignment.state.in_(OPEN))
        )
        or 0
        for a in apps
    }
    created: list[JuryAssignment] = []
    short: dict[int, int] = {}
    for app in apps:
        for _ in range(max(0, wanted - open_count[app.id])):
            candidates = [
                j for j in pool if j.country_code != app.country_code and j.id not in taken[app.id]
            ]
            if not candidates:
                short[app.id] = short.get(app.id, 0) + 1
                continue
            juror = min(candidates, key=lambda j: (load[j.id], j.id))
            created.append(_create(session, settings, actor, app, juror, now))
            taken[app.id].add(juror.id)
            load[juror.id] += 1
    return Spread(created, short)


def _own(session: Session, actor: Actor, assignment_id: int) -> JuryAssignment:
    require_role(actor, Role.JUROR, doing="score or decline an assignment")
    record = get(session, JuryAssignment, assignment_id, "assignment", lock=True)
    if record.juror_id != actor.user_id:
        raise NotAllowed("This assignment is another juror's.", "not_assigned", kind="assignment")
    return record


def decline(
    session: Session,
    settings: Settings,
    actor: Actor,
    assignment_id: int,
    *,
    reason: str,
    now: datetime,
) -> JuryAssignment:
    """The juror declines an assignment, saying why (a conflict of interest); the
    Institute then assigns the application to another juror."""
    record = _own(session, actor, assignment_id)
    fire(session, ASSIGNMENT, record, "decline_assignment", actor, now=now, comment=reason)
    record.declined_at = now
    record.reason = reason.strip()
    flush(session, "assignment", record.id)
    publish(session, settings)
    return record


def submit_scores(
    session: Session,
    settings: Settings,
    actor: Actor,
    assignment_id: int,
    *,
    scores: Mapping[str, int],
    comments: Mapping[str, str] | None = None,
    recommendation: str,
    comment: str = "",
    now: datetime,
) -> JuryAssignment:
    """The juror's scores: every criterion 1-5 (with an optional comment each) and a
    recommendation; once submitted they are final."""
    record = _own(session, actor, assignment_id)
    criteria = settings.jury.criteria
    missing = [c for c in criteria if c not in scores]
    unknown = sorted(set(scores) - set(criteria))
    if unknown:
        raise InvalidInput(
            f"Unknown criteria: {', '.join(unknown)}; score {', '.join(criteria)}.",
            "unknown_criteria",
            criteria=unknown,
        )
    if missing:
        raise InvalidInput(
            f"Score every criterion; missing: {', '.join(missing)}.",
            "scores_missing",
            criteria=missing,
        )
    for criterion, score in scores.items():
        if not isinstance(score, int) or not LOWEST <= score <= HIGHEST:
            raise InvalidInput(
                f"{criterion}: a score is a whole number from {LOWEST} to {HIGHEST}.",
                "score_range",
                criterion=criterion,
                lowest=LOWEST,
                highest=HIGHEST,
            )
    if recommendation not in RECOMMENDATIONS:
        raise InvalidInput(
            "Recommend admit or not_admit.", "not_recommendation", value=recommendation
        )
    fire(session, ASSIGNMENT, record, "submit_scores", actor, now=now, comment=comment)
    said = comments or {}
    for criterion in criteria:
        session.add(
            JuryScore(
                assignment_id=record.id,
                criterion=criterion,
                score=scores[criterion],
                comment=said.get(criterion, "").strip(),
            )
        )
    record.scored_at = now
    record.recommendation = recommendation
    record.comment = comment.strip()
    flush(session, "assignment", record.id)
    publish(session, settings)
    return record


def set_review_deadline(
    session: Session, actor: Actor, call_name: str, deadline: date | None, *, now: datetime
) -> Call:
    """The day the jurors' scores of the call are due (None: no deadline)."""
    require_role(actor, *STAFF, doing="set a review deadline")
    call = _call(session, call_name)
    call.review_deadline = deadline
    flush(session, "call", call.name)
    audit(
        session,
        actor,
        subject_type="call",
        subject_id=call.id,
        action="set_review_deadline",
        now=now,
        comment=f"{deadline:%Y-%m-%d}" if deadline else "none",
    )
    return call


# ---------------------------------------------------------------- reading the scores


@dataclass(frozen=True)
class JurorScores:
    """One juror's assignment of an application, and their scores once submitted."""

    assignment_id: int
    juror: str  # name
    email: str
    state: str
    scores: dict[str, int]
    comments: dict[str, str]
    recommendation: str
    comment: str
    reason: str  # why declined

    @property
    def mean(self) -> float | None:
        return fmean(self.scores.values()) if self.scores else None


@dataclass(frozen=True)
class ApplicationScores:
    """The jury's scores of one application."""

    application_id: int
    city: str
    country_code: str
    state: str
    jurors: list[JurorScores] = field(default_factory=list)

    @property
    def scored(self) -> list[JurorScores]:
        return [j for j in self.jurors if j.state == J.SCORED.value]

    @property
    def mean(self) -> float | None:
        means = [j.mean for j in self.scored if j.mean is not None]
        return fmean(means) if means else None

    @property
    def spread(self) -> float | None:
        """The highest juror's mean less the lowest's."""
        means = [j.mean for j in self.scored if j.mean is not None]
        return max(means) - min(means) if means else None

    def criterion_mean(self, criterion: str) -> float | None:
        found = [j.scores[criterion] for j in self.scored if criterion in j.scores]
        return fmean(found) if found else None

    @property
    def admit(self) -> int:
        return sum(1 for j in self.scored if j.recommendation == "admit")

    @property
    def recommendation(self) -> str:
        """``admit`` or ``not_admit`` by majority, ``tied``, or "" with no scores."""
        scored = len(self.scored)
        if not scored:
            return ""
        if self.admit * 2 == scored:
            return "tied"
        return "admit" if self.admit * 2 > scored else "not_admit"


def _scores(
    session: Session, app: ApplicationView, *, only: int | None = None
) -> ApplicationScores:
    query = (
        select(JuryAssignment)
        .where(JuryAssignment.application_id == app.id)
        .order_by(JuryAssignment.id)
    )
    if only is not None:
        query = query.where(JuryAssignment.id == only)
    rows = []
    for a in session.scalars(query):
        rows.append(
            JurorScores(
                assignment_id=a.id,
                juror=a.juror.name,
                email=a.juror.email,
                state=a.state,
                scores={s.criterion: s.score for s in a.scores},
                comments={s.criterion: s.comment for s in a.scores},
                recommendation=a.recommendation,
                comment=a.comment,
                reason=a.reason,
            )
        )
    city = session.get(City, app.city_id)
    return ApplicationScores(app.id, city.name if city else "", app.country_code, app.state, rows)


def scores_of(session: Session, actor: Actor, application_id: int) -> ApplicationScores:
    """The scores of an application. The Institute and administrators read every juror's;
    a juror reads their own, and the others' only once theirs are submitted (blind)."""
    app = get(session, Application, application_id, "application")
    if actor.role in STAFF:
        return _scores(session, app)
    require_role(actor, *STAFF, Role.JUROR, doing="read the jury's scores")
    own = require_assigned(session, actor, app.id)
    if own.state != J.SCORED.value:
        return _scores(session, app, only=own.id)
    return _scores(session, app)


def ranking(session: Session, actor: Actor, call_name: str) -> list[ApplicationScores]:
    """The call's applications that the jury reviews or reviewed, best mean first (those
    without scores last, by id)."""
    require_role(actor, *STAFF, doing="see the jury's ranking")
    call = _call(session, call_name)
    apps = session.scalars(
        select(Application)
        .where(
            Application.call_id == call.id,
            Application.id.in_(select(JuryAssignment.application_id)),
        )
        .order_by(Application.id)
    )
    found = [_scores(session, a) for a in apps]
    return sorted(found, key=lambda s: (s.mean is None, -(s.mean or 0.0), s.application_id))


def assignments_of(
    session: Session, actor: Actor, *, states: Sequence[str] = OPEN
) -> list[JuryAssignment]:
    """The juror's own assignments (by default those not declined), oldest first."""
    require_role(actor, Role.JUROR, doing="see your assignments")
    return list(
        session.scalars(
            select(JuryAssignment)
            .where(JuryAssignment.juror_id == actor.user_id, JuryAssignment.state.in_(states))
            .order_by(JuryAssignment.id)
        )
    )


def assignments_of_call(session: Session, actor: Actor, call_name: str) -> list[JuryAssignment]:
    """Every assignment of the call's applications (the Institute's view), by id."""
    require_role(actor, *STAFF, doing="see the assignments")
    call = _call(session, call_name)
    return list(
        session.scalars(
            select(JuryAssignment)
            .join(Application, JuryAssignment.application_id == Application.id)
            .where(Application.call_id == call.id)
            .order_by(JuryAssignment.id)
        )
    )


def recommendation_note(session: Session, app: ApplicationView) -> str:
    """The jury's recommendation in the words the audit log keeps ("" without scores)."""
    assigned = session.scalar(
        select(JuryAssignment.id).where(JuryAssignment.application_id == app.id).limit(1)
    )
    if assigned is None:  # no juror was asked: nothing to load
        return ""
    found = _scores(session, app)
    if not found.scored:
        return ""
    return (
        f"jury: {found.recommendation} ({found.admit} of {len(found.scored)} admit, "
        f"mean {found.mean:.2f})"
    )


# ---------------------------------------------------------------- exports (CSV, JSON)


def _round(value: float | None) -> float | str:
    return round(value, 2) if value is not None else ""


def ranking_rows(
    ranked: Sequence[ApplicationScores], criteria: Sequence[str]
) -> list[dict[str, object]]:
    """One row per application of a ranking: its rank, mean, spread, the mean of each
    criterion and the jury's recommendation (CSV columns, JSON keys)."""
    rows: list[dict[str, object]] = []
    for rank, found in enumerate(ranked, start=1):
        rows.append(
            {
                "rank": rank if found.mean is not None else "",
                "application_id": found.application_id,
                "city": found.city,
                "country": found.country_code,
                "state": found.state,
                "jurors_scored": len(found.scored),
                "jurors_assigned": sum(1 for j in found.jurors if j.state in OPEN),
                "mean": _round(found.mean),
                "spread": _round(found.spread),
                **{c: _round(found.criterion_mean(c)) for c in criteria},
                "admit": found.admit,
                "recommendation": found.recommendation,
            }
        )
    return rows


def score_rows(
    found: Sequence[ApplicationScores], criteria: Sequence[str]
) -> list[dict[str, object]]:
    """One row per juror of each application: their state, each criterion's score and
    comment, their mean and recommendation, or why they declined."""
    rows: list[dict[str, object]] = []
    for app in found:
        for j in app.jurors:
            row: dict[str, object] = {
                "application_id": app.application_id,
                "city": app.city,
                "country": app.country_code,
                "juror": j.juror,
                "juror_email": j.email,
                "state": j.state,
            }
            for c in criteria:
                row[c] = j.scores.get(c, "")
                row[f"{c}_comment"] = j.comments.get(c, "")
            row.update(
                mean=_round(j.mean),
                recommendation=j.recommendation,
                comment=j.comment,
                declined_reason=j.reason,
            )
            rows.append(row)
    return rows
