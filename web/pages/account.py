"""The signed-in user's own account: the profile (name, language) and the password."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web import accounts, flash, signin
from web.portal import portal_of
from web.routing import RetryingRoute, in_loop
from web.templating import render, said
from web.viewer import Viewer, checked_form, set_language_cookie, signed_in
from workflow.errors import WorkflowError

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)

#: ``?done=`` notices of this page (web/catalogue.py RUNTIME "done").
DONE = ("profile", "password_changed")


@router.get("/account")
@in_loop
def account_page(request: Request, done: str = "", who: Viewer = Depends(signed_in)) -> Response:
    kept = flash.kept(request)
    context = {
        "name": kept.get("name", who.name),
        "language": kept.get("language", who.lang),
        "done": done if done in DONE else "",
    }
    return render(request, "account/profile.html", context)


@router.post("/account")
def save_profile(
    request: Request, form: FormData = Depends(checked_form), who: Viewer = Depends(signed_in)
) -> Response:
    portal = portal_of(request)
    assert who.user_id is not None
    values = {"name": str(form.get("name") or ""), "language": str(form.get("language") or "")}
    try:
        with portal.unit() as session:
            user = accounts.update_profile(session, who.user_id, **values)
            language = user.language
    except WorkflowError as exc:
        return flash.back(request, "/account", error=said(request, exc), values=values)
    response = RedirectResponse("/account?done=profile", status_code=303)
    set_language_cookie(request, response, language)
    return response


@router.post("/account/password")
def change_password(
    request: Request, form: FormData = Depends(checked_form), who: Viewer = Depends(signed_in)
) -> Response:
    """Current password, then the new one twice; the user's other sign-ins end."""
    portal = portal_of(request)
    assert who.user_id is not None
    try:
        accounts.change_password(
            portal,
            portal.settings,
            who.user_id,
            str(form.get("current") or ""),
            str(form.get("password") or ""),
            str(form.get("repeat") or ""),
            keep_session=who.session_id,
            client=signin.client_address(request),
            now=portal.now(),
        )
    except WorkflowError as exc:
        return flash.back(request, "/account", error=said(request, exc))
    return RedirectResponse("/account?done=password_changed", status_code=303)
