"""The JSON API under /api/v1: the same services as the pages, described by OpenAPI.

Sign in with ``POST /api/v1/session`` and send the token as ``Authorization: Bearer``.
A browser session cookie works too; then every change must carry the page's CSRF token
in the ``X-CSRF-Token`` header.

This module holds what every route of the API shares (``api_user``, ``PROBLEMS``) and
the session and token routes; the others are by resource in ``web.api_applications``,
``web.api_members`` and ``web.api_admin``, each a router of its own under the same
prefix.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from web import schemas as s
from web import sessions, signin
from web.portal import portal_of
from web.routing import RetryingRoute
from web.schemas import Id
from web.security import same_token
from web.viewer import (
    CsrfRejected,
    SignInRequired,
    Viewer,
    client_of,
    end_session,
    load_viewer,
    viewer,
)
from workflow.errors import NotFound

bearer = HTTPBearer(auto_error=False, description="The token from POST /api/v1/session.")
SAFE = ("GET", "HEAD", "OPTIONS")
PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": s.Problem} for code in (400, 401, 403, 404, 409, 422, 429)
}

router = APIRouter(prefix="/api/v1", responses=PROBLEMS, route_class=RetryingRoute)


def api_user(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Viewer:
    """The signed-in user by API token, or by session cookie with the CSRF header on
    changes. A token works only while it is open on the server (web/sessions.py)."""
    if credentials is not None:
        found = load_viewer(request, credentials.credentials, sessions.API)
        if not found.signed_in:
            raise SignInRequired()
        request.state.api_token = True
        return found
    found = viewer(request)
    if not found.signed_in:
        raise SignInRequired()
    if request.method not in SAFE and not same_token(
        request.headers.get("x-csrf-token"), found.csrf
    ):
        raise CsrfRejected()
    return found


@router.post("/session", response_model=s.Token, tags=["session"])
def sign_in(request: Request, body: s.SignIn) -> s.Token:
    portal = portal_of(request)
    found = signin.sign_in(request, body.email, body.password)
    now = portal.now()
    with portal.unit() as session:
        started = sessions.start(
            session,
            portal.settings,
            found[0],
            sessions.API,
            now=now,
            label=body.label,
            client=client_of(request),
        )
    return s.Token(
        token=started.token,
        expires_in=int((started.expires_at - now).total_seconds()),
        id=started.id,
        expires_at=started.expires_at,
    )


@router.delete("/session", status_code=204, tags=["session"])
def sign_out(request: Request, who: Viewer = Depends(api_user)) -> Response:
    """End the session this request came with: the token (or the browser's session)
    stops working at once."""
    if getattr(request.state, "api_token", False):
        assert who.session_id is not None
        portal = portal_of(request)
        with portal.unit() as session:
            sessions.revoke_id(session, who.session_id, now=portal.now())
    else:
        end_session(request)
    return Response(status_code=204)


@router.get("/tokens", response_model=list[s.TokenOut], tags=["session"])
def list_tokens(request: Request, who: Viewer = Depends(api_user)) -> list[s.TokenOut]:
    """Your API tokens that still work, newest first."""
    assert who.user_id is not None
    portal = portal_of(request)
    with portal.reading() as session:
        rows = sessions.api_tokens(session, portal.settings, who.user_id, now=portal.now())
        return [
            s.TokenOut(
                id=r.id,
                label=r.label,
                created_at=r.created_at,
                last_used_at=r.last_seen_at,
                expires_at=r.expires_at,
                current=r.id == who.session_id,
            )
            for r in rows
        ]


@router.delete("/tokens/{token_id}", status_code=204, tags=["session"])
def revoke_token(request: Request, token_id: Id, who: Viewer = Depends(api_user)) -> Response:
    """End one of your API tokens. Another person's token number answers 404."""
    assert who.user_id is not None
    portal = portal_of(request)
    with portal.unit() as session:
        if not sessions.revoke_token(
            session, portal.settings, who.user_id, token_id, now=portal.now()
        ):
            raise NotFound("API token", token_id)
    return Response(status_code=204)


@router.get("/me", response_model=s.Me, tags=["session"])
def me(who: Viewer = Depends(api_user)) -> s.Me:
    assert who.user_id is not None
    return s.Me(
        id=who.user_id,
        email=who.email,
        name=who.name,
        role=who.role,
        city_id=who.city_id,
        country_code=who.country_code,
        language=who.lang,
    )
