"""Sign in and out, accept an invitation, "Forgot your password?", switch the language.

Every form follows Post-Redirect-Get (web/flash.py): a refusal goes back to the page the
form came from, with the email kept (never a password).

The language: signed in, the account's language wins (web/i18n.py pick_language), and
the switch changes the account too; signing in sets the switch's cookie to the account's
language, so the pages keep it after signing out. An account with no language yet takes
the one its user was reading when signing in or accepting the invitation.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web import accounts, flash, signin
from web.i18n import LANGUAGES
from web.portal import portal_of
from web.routing import RetryingRoute
from web.security import LANGUAGE_COOKIE
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
from workflow.services.directory import check_required

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)


def safe_next(value: object) -> str:
    """Only a path on this site: never an absolute URL to elsewhere."""
    text = str(value or "/")
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or not text.startswith("/") or text.startswith("//"):
        return "/"
    return text


def signed_in_to(request: Request, user_id: int, target: str, reading: str) -> Response:
    """Start the session of ``user_id`` and go to ``target``. ``reading`` is the language
    the person was reading: the account takes it when it has none; the switch's cookie
    then follows the account's language."""
    start_session(request, user_id)
    with portal_of(request).unit() as session:
        language = accounts.adopt_language(session, user_id, reading)
    response = RedirectResponse(target, status_code=303)
    if language in LANGUAGES:
        set_language_cookie(request, response, language)
    return response


# --- signing in and out ------------------------------------------------------------------


@router.get("/login")
def login_page(
    request: Request, next: str = "/", done: str = "", who: Viewer = Depends(viewer)
) -> Response:
    kept = flash.kept(request)
    context = {"email": kept.get("email", ""), "next": safe_next(kept.get("next", next))}
    return render(request, "auth/login.html", {**context, "done": done})


@router.post("/login")
def login(
    request: Request, form: FormData = Depends(checked_form), who: Viewer = Depends(viewer)
) -> Response:
    email = str(form.get("email") or "")
    password = str(form.get("password") or "")
    target = safe_next(form.get("next"))
    try:
        found = signin.sign_in(request, email, password)
    except WorkflowError as exc:
        back = "/login" if target == "/" else f"/login?{urlencode({'next': target})}"
        return flash.back(
            request, back, error=said(request, exc), values={"email": email, "next": target}
        )
    return signed_in_to(request, found.user_id, target, who.lang)


@router.post("/logout")
def logout(request: Request, form: FormData = Depends(checked_form)) -> Response:
    end_session(request)
    return RedirectResponse("/login", status_code=303)


@router.post("/language")
def switch_language(
    request: Request, form: FormData = Depends(checked_form), who: Viewer = Depends(viewer)
) -> Response:
    """The language switch: the cookie, and the account's language when signed in."""
    lang = str(form.get("lang") or "")
    target = safe_next(form.get("next"))
    response = RedirectResponse(target, status_code=303)
    if lang in LANGUAGES:
        set_language_cookie(request, response, lang)
        if who.user_id is not None:
            with portal_of(request).unit() as session:
                accounts.set_language(session, who.user_id, lang)
    return response


# --- invitations -------------------------------------------------------------------------


def _invitation_path(token: str) -> str:
    return f"/invitation/{quote(token, safe='')}"


@router.get("/invitation/{token}")
def invitation_page(request: Request, token: str, who: Viewer = Depends(viewer)) -> Response:
    portal = portal_of(request)
    try:
        with portal.reading() as session:
            email = accounts.invited_user(session, token, now=portal.now()).email
    except WorkflowError as exc:
        context = {"error": said(request, exc), "status": exc.status}
        return render(request, "error.html", context, status=exc.status)
    return render(request, "auth/invitation.html", {"token": token, "email": email})


@router.post("/invitation/{token}")
def accept_invitation(
    request: Request,
    token: str,
    form: FormData = Depends(checked_form),
    who: Viewer = Depends(viewer),
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
                language=who.lang,
                chosen=request.cookies.get(LANGUAGE_COOKIE) == who.lang,
            )
            user_id = user.id
    except WorkflowError as exc:
        return flash.back(request, _invitation_path(token), error=said(request, exc))
    return signed_in_to(request, user_id, "/?done=password", who.lang)


# --- "Forgot your password?" -------------------------------------------------------------


@router.get("/password/forgot")
def forgot_page(request: Request, done: str = "", who: Viewer = Depends(viewer)) -> Response:
    minutes = portal_of(request).settings.signin.reset_link_minutes
    context = {"email": flash.kept(request).get("email", ""), "sent": done == "sent"}
    return render(request, "auth/forgot.html", {**context, "minutes": minutes})


@router.post("/password/forgot")
def ask_for_reset(
    request: Request, form: FormData = Depends(checked_form), who: Viewer = Depends(viewer)
) -> Response:
    """The same answer whether the email has an account or not (see
    :func:`web.accounts.request_reset`)."""
    portal = portal_of(request)
    email = str(form.get("email") or "")
    try:
        check_required(email, "email")
        with portal.unit() as session:
            accounts.request_reset(
                session,
                portal.settings,
                email,
                client=signin.client_address(request),
                now=portal.now(),
            )
    except WorkflowError as exc:
        return flash.back(
            request, "/password/forgot", error=said(request, exc), values={"email": email}
        )
    return RedirectResponse("/password/forgot?done=sent", status_code=303)


def _reset_path(token: str) -> str:
    return f"/password/reset/{quote(token, safe='')}"


@router.get("/password/reset/{token}")
def reset_page(request: Request, token: str, who: Viewer = Depends(viewer)) -> Response:
    portal = portal_of(request)
    try:
        with portal.reading() as session:
            email = accounts.reset_user(session, token, now=portal.now()).email
    except WorkflowError as exc:
        context = {"token": token, "email": "", "invalid": said(request, exc)}
        return render(request, "auth/reset.html", context, status=exc.status)
    return render(request, "auth/reset.html", {"token": token, "email": email, "invalid": None})


@router.post("/password/reset/{token}")
def reset_password(
    request: Request,
    token: str,
    form: FormData = Depends(checked_form),
    who: Viewer = Depends(viewer),
) -> Response:
    """A new password with the emailed link: every other sign-in of the user ends, and
    this browser is signed in."""
    portal = portal_of(request)
    try:
        user_id = accounts.reset_password(
            portal,
            token,
            str(form.get("password") or ""),
            str(form.get("repeat") or ""),
            now=portal.now(),
        )
    except WorkflowError as exc:
        return flash.back(request, _reset_path(token), error=said(request, exc))
    return signed_in_to(request, user_id, "/?done=password_reset", who.lang)
