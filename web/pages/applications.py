"""Applications: the list, the form (Part 1), the signed PDF, one application and its
actions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.responses import FileResponse, RedirectResponse, Response

from web import actions, flash, lists, queries
from web.actions import NotConfirmed
from web.forms import form_fields, from_form
from web.i18n import language_names, translator
from web.portal import portal_of
from web.refusals import problem_text
from web.routing import RetryingRoute, in_loop
from web.schemas import ActionIn, ApplicationIn, Id
from web.templating import render, said
from web.uploads import DEFAULT_NAME, read_upload
from web.viewer import Viewer, actor_of, checked_form, signed_in
from workflow.actors import require_role
from workflow.errors import WorkflowError
from workflow.models import City
from workflow.services import applications as apps
from workflow.services import jury
from workflow.services.common import get
from workflow.states import ApplicationState as A
from workflow.states import Role
from workflow.uploads import signed_form_path, store_signed_form

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)


@router.get("/applications")
@in_loop
def application_list(request: Request, who: Viewer = Depends(signed_in)) -> Response:
    """Search, filters, sort and pages from the query string (``web.lists``)."""
    return lists.applications(request, who)


@router.get("/applications.csv")
def application_csv(request: Request, who: Viewer = Depends(signed_in)) -> Response:
    """The list's rows for the same query string, as CSV."""
    return lists.applications(request, who, as_csv=True)


def _stored_values(session: Session, who: Viewer, app_id: int | None) -> dict[str, Any]:
    """What the form shows first: the stored application and city details."""
    actor = actor_of(who)
    values: dict[str, Any] = {}
    if app_id is not None:
        app = apps.get_application(session, actor, app_id)
        city = app.city
        values.update(
            motivation=app.motivation,
            implementation_plan=app.implementation_plan,
            signed_by=app.signed_by,
            version=app.version,
            **{f"challenge_{k}": v for k, v in app.challenges.items()},
        )
    else:
        city = get(session, City, actor.city_id, "city")
    for name in actions.CITY_FORM_FIELDS:
        value = getattr(city, name)
        values[name] = "" if value is None else value
    values["city_name"] = city.name
    values["country_name"] = city.country.name
    return values


def _form_page(request: Request, who: Viewer, app_id: int | None) -> Response:
    """The form, prefilled with what is stored and, after a refused save, with what the
    person typed (``flash.kept``). An application the city can no longer change shows a
    page that says so, with the way back, instead of a form that would be refused."""
    portal = portal_of(request)
    settings = portal.settings
    actor = actor_of(who)
    kept = flash.kept(request)
    try:
        require_role(actor, Role.CITY, doing="fill in an application")
        with portal.reading() as session:
            if app_id is not None:
                app = apps.get_application(session, actor, app_id)
                if app.state not in EDITABLE:
                    context = {"app_id": app_id, "state": app.state}
                    return render(request, "applications/locked.html", context, status=409)
            stored = _stored_values(session, who, app_id)
    except WorkflowError as exc:
        return render(request, "error.html", {"error": said(request, exc)}, status=exc.status)
    blank = dict.fromkeys(
        (*actions.CITY_FORM_FIELDS, *actions.TEXT_FIELDS, "city_name", "country_name"), ""
    )
    # A refused save keeps what was typed; the hidden version stays the stored one.
    values = {**blank, **stored, **{k: v for k, v in kept.items() if k != "version"}}
    context = {
        "values": values,
        "app_id": app_id,
        "areas": apps.CHALLENGES,
        "max_words": settings.applications.max_words,
        "upload_max_mb": settings.web.upload_max_bytes / 1_000_000,
        "city_languages": language_names(settings.network.languages),
    }
    return render(request, "applications/form.html", context)


#: The states in which the city may change its form (``apps.update_draft``).
EDITABLE = (A.DRAFT, A.RETURNED)


@router.get("/applications/new")
def new_application(request: Request, who: Viewer = Depends(signed_in)) -> Response:
    return _form_page(request, who, None)


@router.get("/applications/{app_id}/edit")
def edit_application(request: Request, app_id: Id, who: Viewer = Depends(signed_in)) -> Response:
    return _form_page(request, who, app_id)


def application_body(values: Mapping[str, str]) -> ApplicationIn:
    """The page's form as the API's body: the same model, so the same limits."""
    fields = form_fields(ApplicationIn, values)
    if isinstance(population := fields.get("population"), str):
        fields["population"] = population.replace(" ", "").replace(",", "")
    challenges = {
        area: value.strip()
        for area in apps.CHALLENGES
        if (value := values.get(f"challenge_{area}", "")).strip()
    }
    if challenges:
        fields["challenges"] = challenges
    return from_form(ApplicationIn, fields)


def _save(request: Request, who: Viewer, form: FormData, app_id: int | None) -> Response:
    """Save the draft whatever its word counts (they are warnings on the next page, and
    checked at submission); a refusal goes back to the form with the input kept."""
    portal = portal_of(request)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        body = application_body(values)
        with portal.unit() as session:
            app = actions.save_application(
                session,
                portal.settings,
                actor_of(who),
                body.model_dump(exclude_none=True, exclude={"version"}),
                now=portal.now(),
                application_id=app_id,
                version=body.version,
            )
            saved = app.id
    except WorkflowError as exc:
        page = "/applications/new" if app_id is None else f"/applications/{app_id}/edit"
        return flash.back(request, page, error=said(request, exc), values=values)
    return RedirectResponse(f"/applications/{saved}?done=saved", status_code=303)


@router.post("/applications")
def create_application(
    request: Request, who: Viewer = Depends(signed_in), form: FormData = Depends(checked_form)
) -> Response:
    return _save(request, who, form, None)


@router.post("/applications/{app_id}/edit")
def update_application(
    request: Request,
    app_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    return _save(request, who, form, app_id)


@router.get("/applications/{app_id}")
@in_loop
def application_page(
    request: Request, app_id: Id, who: Viewer = Depends(signed_in), done: str = ""
) -> Response:
    portal = portal_of(request)
    kept = flash.kept(request)
    t = translator(who.lang)
    with portal.reading() as session:
        view = queries.application_view(
            session, portal.settings, actor_of(who), app_id, portal.now(), lang=who.lang
        )
        context = {
            "view": view,
            "app": view.app,
            "offers": [
                (o, None if o.refused is None else said(request, o.refused)) for o in view.offers
            ],
            "problems": [problem_text(p.key, p.params, t, who.lang) for p in view.problems],
            "warnings": [problem_text(p.key, p.params, t, who.lang) for p in view.warnings],
            "confirmed": actions.CONFIRMED["application"],
            "note": queries.system_note,
            "kept": kept,
            "done": done,
            # The jury's recommendation beside the decisions (the decision records it).
            "jury": (
                jury.scores_of(session, actor_of(who), app_id) if who.is_(*jury.STAFF) else None
            ),
        }
        return render(request, "applications/detail.html", context)


@router.post("/applications/{app_id}/act")
def application_action(
    request: Request,
    app_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    trigger = str(form.get("trigger") or "")
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "confirm"}
    try:
        if trigger in actions.CONFIRMED["application"] and form.get("confirm") != "yes":
            raise NotConfirmed()
        body = from_form(ActionIn, form_fields(ActionIn, form))
        with portal.unit() as session:
            actions.act_on_application(
                session,
                portal.settings,
                actor_of(who),
                app_id,
                trigger,
                now=portal.now(),
                comment=body.comment,
                endorsement=body.endorsement,
                version=body.version,
            )
    except WorkflowError as exc:
        return flash.back(
            request, f"/applications/{app_id}", error=said(request, exc), values=values
        )
    return RedirectResponse(f"/applications/{app_id}?done={trigger}", status_code=303)


@router.post("/applications/{app_id}/signed-form")
def upload_signed_form(
    request: Request,
    app_id: Id,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    upload = form.get("signed_form")
    try:
        data, filename = b"", DEFAULT_NAME
        if isinstance(upload, UploadFile):
            data, filename = read_upload(upload, portal.settings)
        with portal.unit() as session:
            store_signed_form(
                session,
                portal.settings,
                actor_of(who),
                app_id,
                filename=filename,
                data=data,
                folder=portal.uploads,
                now=portal.now(),
            )
    except WorkflowError as exc:
        return flash.back(request, f"/applications/{app_id}", error=said(request, exc))
    return RedirectResponse(f"/applications/{app_id}?done=uploaded", status_code=303)


@router.get("/applications/{app_id}/signed-form")
def download_signed_form(
    request: Request, app_id: Id, who: Viewer = Depends(signed_in)
) -> Response:
    portal = portal_of(request)
    with portal.reading() as session:
        path, name = signed_form_path(session, actor_of(who), app_id, portal.uploads)
    return FileResponse(path, media_type="application/pdf", filename=name)
