"""The expert jury in the portal (``workflow.services.jury``).

- A juror: ``/jury`` lists their assignments; ``/jury/assignments/<id>`` shows the
  application (what a juror may see of it), the scoring form (every configured criterion
  1-5 with a comment, a recommendation and an overall comment), the scores the service
  lets them read (blind: the others' only after theirs), and declining with a reason.
- The Institute and administrators: ``/jury`` lists the calls; ``/jury/calls/<name>`` sets
  the review deadline, assigns by hand (the select offers only jurors who may take the
  application), spreads evenly, shows every assignment, the scores by juror with mean and
  spread per criterion and the ranking, and ``ranking.csv`` / ``scores.csv``.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web import accounts, flash
from web.actions import NotConfirmed
from web.listing import csv_response
from web.portal import portal_of
from web.routing import RetryingRoute, in_loop
from web.schemas import Id
from web.templating import render, said
from web.viewer import Viewer, actor_of, checked_form, signed_in
from workflow.actors import Actor, require_role
from workflow.errors import InvalidInput, WorkflowError
from workflow.models import Application, Call, Country, JuryAssignment
from workflow.services import jury
from workflow.services.common import get
from workflow.states import Role

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)


def _is_staff(actor: Actor) -> bool:
    return actor.role in jury.STAFF


@router.get("/jury")
@in_loop
def jury_home(request: Request, who: Viewer = Depends(signed_in), done: str = "") -> Response:
    """A juror's assignments; for the Institute, the calls with the jury's work in each."""
    portal = portal_of(request)
    actor = actor_of(who)
    with portal.reading() as session:
        if actor.role == Role.JUROR:
            rows = jury.assignments_of(session, actor, states=(*jury.OPEN, "declined"))
            context: dict[str, object] = {"assignments": rows, "done": done}
            return render(request, "jury/mine.html", context)
        require_role(actor, *jury.STAFF, doing="see the jury's work")
        calls = list(session.scalars(select(Call).order_by(Call.opens_on.desc())))
        counts = {c.name: len(jury.assignments_of_call(session, actor, c.name)) for c in calls}
        context = {
            "calls": calls,
            "counts": counts,
            "jurors": jury.jurors(session, actor),
            "countries": sorted(session.scalars(select(Country.code))),
            "network_languages": portal.settings.network.languages,
            "values": flash.kept(request),
            "done": done,
        }
        return render(request, "jury/calls.html", context)


@router.post("/jury/jurors")
def invite_juror(
    request: Request, who: Viewer = Depends(signed_in), form: FormData = Depends(checked_form)
) -> Response:
    """The Institute invites an expert: an account as juror, and the invitation mail."""
    portal = portal_of(request)
    values = {k: str(form.get(k) or "") for k in ("email", "name", "country_code", "language")}
    try:
        with portal.unit() as session:
            accounts.invite_juror(
                session,
                portal.settings,
                actor_of(who),
                email=values["email"],
                name=values["name"],
                country_code=values["country_code"],
                language=values["language"],
                now=portal.now(),
            )
    except WorkflowError as exc:
        return flash.back(request, "/jury", error=said(request, exc), values=values)
    return RedirectResponse("/jury?done=juror_invited", status_code=303)


# ---------------------------------------------------------------- the juror


@router.get("/jury/assignments/{assignment_id}")
@in_loop
def assignment_page(
    request: Request, assignment_id: Id, who: Viewer = Depends(signed_in), done: str = ""
) -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    kept = flash.kept(request)
    with portal.reading() as session:
        require_role(actor, Role.JUROR, doing="see your assignments")
        record = get(session, JuryAssignment, assignment_id, "assignment")
        if record.juror_id != actor.user_id:
            jury.require_assigned(session, actor, -1)  # the juror's refusal, same words
        app = get(session, Application, record.application_id, "application")
        scores = jury.scores_of(session, actor, app.id) if record.state in jury.OPEN else None
        context = {
            "a": record,
            "app": app,
            "scores": scores,
            "criteria": portal.settings.jury.criteria,
            "recommendations": jury.RECOMMENDATIONS,
            "marks": range(jury.LOWEST, jury.HIGHEST + 1),
            "kept": kept,
            "done": done,
        }
        return render(request, "jury/assignment.html", context)


def _scores_of_form(form: FormData, criteria: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    scores: dict[str, int] = {}
    comments: dict[str, str] = {}
    for c in criteria:
        raw = str(form.get(f"score_{c}") or "").strip()
        if raw:
            if not raw.isdigit():
                raise InvalidInput(
                    f"{c}: a score is a whole number.",
                    "score_range",
                    criterion=c,
                    lowest=jury.LOWEST,
                    highest=jury.HIGHEST,
                )
            scores[c] = int(raw)
        comments[c] = str(form.get(f"comment_{c}") or "")
    return scores, comments


@router.post("/jury/assignments/{assignment_id}/scores")
def submit_scores(
    request: Request,
    assignment_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    back = f"/jury/assignments/{assignment_id}"
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "confirm"}
    try:
        if form.get("confirm") != "yes":
            raise NotConfirmed()
        scores, comments = _scores_of_form(form, list(portal.settings.jury.criteria))
        with portal.unit() as session:
            jury.submit_scores(
                session,
                portal.settings,
                actor_of(who),
                assignment_id,
                scores=scores,
                comments=comments,
                recommendation=str(form.get("recommendation") or ""),
                comment=str(form.get("comment") or ""),
                now=portal.now(),
            )
    except WorkflowError as exc:
        return flash.back(request, back, error=said(request, exc), values=values)
    return RedirectResponse(f"{back}?done=jury_scored", status_code=303)


@router.post("/jury/assignments/{assignment_id}/decline")
def decline(
    request: Request,
    assignment_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    back = f"/jury/assignments/{assignment_id}"
    reason = str(form.get("reason") or "").strip()
    values = {"reason": reason, "trigger": "decline"}
    try:
        if not reason:
            raise InvalidInput("Say why you decline.", "decline_reason_needed")
        if form.get("confirm") != "yes":
            raise NotConfirmed()
        with portal.unit() as session:
            jury.decline(
                session,
                portal.settings,
                actor_of(who),
                assignment_id,
                reason=reason,
                now=portal.now(),
            )
    except WorkflowError as exc:
        return flash.back(request, back, error=said(request, exc), values=values)
    return RedirectResponse("/jury?done=jury_declined", status_code=303)


# ---------------------------------------------------------------- the Institute


def _call_path(name: str) -> str:
    return f"/jury/calls/{name}"


@router.get("/jury/calls/{call_name}")
def call_page(
    request: Request, call_name: str, who: Viewer = Depends(signed_in), done: str = ""
) -> Response:
    portal = portal_of(request)
    actor = actor_of(who)
    kept = flash.kept(request)
    criteria = list(portal.settings.jury.criteria)
    with portal.reading() as session:
        pool = jury.jurors(session, actor)
        assignments = jury.assignments_of_call(session, actor, call_name)  # or NotFound
        call = session.scalars(select(Call).where(Call.name == call_name)).one()
        apps = list(
            session.scalars(
                select(Application)
                .where(Application.call_id == call.id, Application.state.in_(jury.REVIEWABLE))
                .order_by(Application.id)
            )
        )
        had: dict[int, set[int]] = {}
        for a in assignments:
            had.setdefault(a.application_id, set()).add(a.juror_id)
        offers = {
            app.id: [
                j
                for j in pool
                if j.country_code != app.country_code and j.id not in had.get(app.id, set())
            ]
            for app in apps
        }
        ranked = jury.ranking(session, actor, call_name)
        context = {
            "call": call,
            "apps": apps,
            "assignments": assignments,
            "by_app": {
                app.id: [a for a in assignments if a.application_id == app.id] for app in apps
            },
            "offers": offers,
            "jurors": pool,
            "ranked": ranked,
            "criteria": criteria,
            "per_application": portal.settings.jury.jurors_per_application,
            "kept": kept,
            "done": done,
        }
        return render(request, "jury/call.html", context)


@router.post("/jury/calls/{call_name}/deadline")
def set_deadline(
    request: Request,
    call_name: str,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    back = _call_path(call_name)
    raw = str(form.get("review_deadline") or "").strip()
    try:
        try:
            deadline = date.fromisoformat(raw) if raw else None
        except ValueError:
            raise InvalidInput(
                f"{raw!r} is not a date.", "not_date", field="field.review_deadline"
            ) from None
        with portal.unit() as session:
            jury.set_review_deadline(session, actor_of(who), call_name, deadline, now=portal.now())
    except WorkflowError as exc:
        return flash.back(request, back, error=said(request, exc), values={"review_deadline": raw})
    return RedirectResponse(f"{back}?done=jury_deadline", status_code=303)


@router.post("/jury/calls/{call_name}/assign")
def assign(
    request: Request,
    call_name: str,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    back = _call_path(call_name)
    try:
        app_raw = str(form.get("application_id") or "")
        juror_raw = str(form.get("juror_id") or "")
        if not app_raw.isdigit() or not juror_raw.isdigit():
            raise InvalidInput("Choose a juror.", "juror_needed")
        with portal.unit() as session:
            jury.assign(
                session,
                portal.settings,
                actor_of(who),
                int(app_raw),
                int(juror_raw),
                now=portal.now(),
            )
    except WorkflowError as exc:
        return flash.back(request, back, error=said(request, exc))
    return RedirectResponse(f"{back}?done=jury_assigned", status_code=303)


@router.post("/jury/calls/{call_name}/spread")
def spread(
    request: Request,
    call_name: str,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    back = _call_path(call_name)
    raw = str(form.get("per_application") or "").strip()
    try:
        if raw and (not raw.isdigit() or int(raw) < 1):
            raise InvalidInput("Give each application at least one juror.", "jurors_too_few")
        with portal.unit() as session:
            jury.spread(
                session,
                portal.settings,
                actor_of(who),
                call_name,
                now=portal.now(),
                per_application=int(raw) if raw else None,
            )
    except WorkflowError as exc:
        return flash.back(request, back, error=said(request, exc), values={"per_application": raw})
    return RedirectResponse(f"{back}?done=jury_spread", status_code=303)


@router.get("/jury/calls/{call_name}/ranking.csv")
def ranking_csv(request: Request, call_name: str, who: Viewer = Depends(signed_in)) -> Response:
    portal = portal_of(request)
    criteria = list(portal.settings.jury.criteria)
    with portal.reading() as session:
        rows = jury.ranking_rows(jury.ranking(session, actor_of(who), call_name), criteria)
    return _csv(f"jury-ranking-{call_name}", rows, _ranking_header(criteria))


@router.get("/jury/calls/{call_name}/scores.csv")
def scores_csv(request: Request, call_name: str, who: Viewer = Depends(signed_in)) -> Response:
    portal = portal_of(request)
    criteria = list(portal.settings.jury.criteria)
    with portal.reading() as session:
        rows = jury.score_rows(jury.ranking(session, actor_of(who), call_name), criteria)
    return _csv(f"jury-scores-{call_name}", rows, _scores_header(criteria))


def _ranking_header(criteria: list[str]) -> list[str]:
    return [
        "rank",
        "application_id",
        "city",
        "country",
        "state",
        "jurors_scored",
        "jurors_assigned",
        "mean",
        "spread",
        *criteria,
        "admit",
        "recommendation",
    ]


def _scores_header(criteria: list[str]) -> list[str]:
    head = ["application_id", "city", "country", "juror", "juror_email", "state"]
    for c in criteria:
        head += [c, f"{c}_comment"]
    return [*head, "mean", "recommendation", "comment", "declined_reason"]


def _csv(name: str, rows: list[dict[str, object]], header: list[str]) -> Response:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
    return csv_response(safe, header, ([row.get(h, "") for h in header] for row in rows))
