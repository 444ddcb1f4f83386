"""Sign in and out, accept an invitation, switch the language."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web import accounts, signin
from web.i18n import LANGUAGES
from web.portal import portal_of
from web.routing import RetryingRoute
from web.templating import render, said
from web.viewer import (
    Viewer,
    checked_form,
    end_session,
    set_language_cookie,
    start_session,
    viewer,
)
from workflow.errors import WorkflowError

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)


def safe_next(value: object) -> str:
    """Only a path on this site: never an absolute URL to elsewhere."""
    text = str(value or "/")
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or not text.startswith("/") or text.startswith("//"):
        return "/"
    return text


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    return render(request, "auth/login.html", {"email": "", "next": safe_next(next)})


@router.post("/login")
def login(request: Request, form: FormData = Depends(checked_form)) -> Response:
    email = str(form.get("email") or "")
    password = str(form.get("password") or "")
    target = safe_next(form.get("next"))
    try:
        found = signin.sign_in(request, email, password)
    except WorkflowError as exc:
        context = {"email": email, "next": target, "error": said(request, exc)}
        return render(request, "auth/login.html", context, status=exc.status)
    start_session(request, found[0])
    response = RedirectResponse(target, status_code=303)
    if found[2] in LANGUAGES and not request.cookies.get("gnlc_lang"):
        set_language_cookie(request, response, found[2])
    return response


@router.post("/logout")
def logout(request: Request, form: FormData = Depends(checked_form)) -> Response:
    end_session(request)
    return RedirectResponse("/login", status_code=303)


@router.post("/language")
def switch_language(
    request: Request, form: FormData = Depends(checked_form), who: Viewer = Depends(viewer)
) -> Response:
    lang = str(form.get("lang") or "")
    target = safe_next(form.get("next"))
    response = RedirectResponse(target, status_code=303)
    if lang in LANGUAGES:
        set_language_cookie(request, response, lang)
        if who.user_id is not None:
            with portal_of(request).unit() as session:
                accounts.set_language(session, who.user_id, lang)
    return response


@router.get("/invitation/{token}")
def invitation_page(request: Request, token: str) -> Response:
    portal = portal_of(request)
    try:
        with portal.unit() as session:
            user = accounts.invited_user(session, token, now=portal.now())
            email = user.email
    except WorkflowError as exc:
        return render(request, "error.html", {"error": said(request, exc)}, status=exc.status)
    return render(request, "auth/invitation.html", {"token": token, "email": email})


@router.post("/invitation/{token}")
def accept_invitation(
    request: Request, token: str, form: FormData = Depends(checked_form)
) -> Response:
    portal = portal_of(request)
    try:
        with portal.unit() as session:
            user = accounts.accept_invitation(
                session,
                token,
                str(form.get("password") or ""),
                str(form.get("repeat") or ""),
                now=portal.now(),
            )
            found = (user.id, user.password_hash)
    except WorkflowError as exc:
        with portal.unit() as session:
            try:
                email = accounts.invited_user(session, token, now=portal.now()).email
            except WorkflowError:
                return render(
                    request, "error.html", {"error": said(request, exc)}, status=exc.status
                )
        context = {"token": token, "email": email, "error": said(request, exc)}
        return render(request, "auth/invitation.html", context, status=exc.status)
    start_session(request, found[0])
    return RedirectResponse("/?done=password", status_code=303)
