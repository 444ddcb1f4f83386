"""A membership's changes: remove and reinstate (the Institute or an administrator),
withdraw (the city by itself; the Institute or an administrator on its written request).

Each opens a confirmation page that asks for the reason (it works without JavaScript);
the machine's row for the viewer's role says whether the reason is required (the city may
leave without one). Confirming runs the membership machine through
``memberships.change_membership``, which checks the role first, then the reason, and
writes the emails the workflow owes to the outbox. Post-Redirect-Get (:mod:`web.flash`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web import flash
from web.forms import form_fields, from_form
from web.pages.admin_kit import refused, strings
from web.portal import portal_of
from web.routing import RetryingRoute
from web.schemas import Id
from web.templating import render
from web.viewer import Viewer, actor_of, checked_form, signed_in
from workflow.errors import WorkflowError
from workflow.machines import MEMBERSHIP
from workflow.services import memberships

router = APIRouter(include_in_schema=False, route_class=RetryingRoute)


class MembershipChangeIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reason: str = Field(default="", max_length=2000)
    version: int | None = Field(default=None, ge=0, le=2_147_483_647)


def _trigger(trigger: str) -> str:
    if trigger not in memberships.CHANGES:
        raise HTTPException(status_code=404)
    return trigger


@router.get("/members/{membership_id}/change/{trigger}")
def confirm_page(
    request: Request, membership_id: Id, trigger: str, who: Viewer = Depends(signed_in)
) -> Response:
    portal = portal_of(request)
    values = flash.kept(request)
    actor = actor_of(who)
    with portal.reading() as session:
        membership = memberships.check_change(session, actor, membership_id, _trigger(trigger))
        step = MEMBERSHIP.step_for(trigger, membership.state, actor.role)
        needs_reason = step is not None and step.needs_comment
        context = {
            "membership": membership,
            "trigger": trigger,
            "needs_reason": needs_reason,
            # the withdraw row with a reason: the Institute or an administrator withdraws
            # the member on its city's written request (the city leaves by itself)
            "on_request": trigger == "withdraw" and needs_reason,
            "values": values,
        }
        return render(request, "members/change.html", context)


@router.post("/members/{membership_id}/change/{trigger}")
def change(
    request: Request,
    membership_id: Id,
    trigger: str,
    who: Viewer = Depends(signed_in),
    form: FormData = Depends(checked_form),
) -> Response:
    portal = portal_of(request)
    values = strings(form)
    _trigger(trigger)
    try:
        body = from_form(MembershipChangeIn, form_fields(MembershipChangeIn, values))
        # a reason left blank where the row needs one: the service says so, after the role
        with portal.unit() as session:
            memberships.change_membership(
                session,
                portal.settings,
                actor_of(who),
                membership_id,
                trigger,
                now=portal.now(),
                comment=body.reason.strip(),
                version=body.version,
            )
    except WorkflowError as exc:
        return refused(request, exc, f"/members/{membership_id}/change/{trigger}", values)
    return RedirectResponse(f"/members/{membership_id}?done=member_{trigger}", status_code=303)
