"""The portal's units of work, shared by pages and API: save the form, fire an action.

They only route to the workflow services (which check who may do what) and add the
portal's own rule that a city submits only with the signed PDF uploaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from config import Settings
from web.uploads import require_signed_form
from workflow.actors import Actor, require_role
from workflow.errors import InvalidInput
from workflow.models import Application, City, Report
from workflow.services import applications as apps
from workflow.services import directory, memberships
from workflow.services.common import get
from workflow.states import Role

#: Part 1 fields kept on the city (its identity and contact), as on the paper form.
CITY_FORM_FIELDS = (
    "website",
    "mayor_name",
    "mayor_title",
    "contact_name",
    "contact_email",
    "contact_phone",
    "language",
    "population",
)
TEXT_FIELDS = ("motivation", "implementation_plan", "signed_by")
MAX_NUMBER = 2_147_483_647  # what the database stores in an integer column


def parse_form(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(city fields, application fields) from a page form or an API body."""
    city = {k: str(values[k]).strip() for k in CITY_FORM_FIELDS if values.get(k) is not None}
    if city.get("population"):
        # The directory service casts it; bound it first so the database never overflows.
        optional_int(city["population"].replace(" ", "").replace(",", ""))
    form: dict[str, Any] = {
        k: str(values[k]).replace("\r\n", "\n") for k in TEXT_FIELDS if values.get(k) is not None
    }
    challenges: dict[str, int] = {}
    raw = values.get("challenges")
    source = raw if isinstance(raw, Mapping) else {}
    for area in apps.CHALLENGES:
        value = source.get(area, values.get(f"challenge_{area}"))
        if value in (None, ""):
            continue
        try:
            challenges[area] = int(value)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"challenges.{area}: rate it 1 to 5.") from exc
    if challenges:
        form["challenges"] = challenges
    return city, form


def _save_city(session: Session, actor: Actor, fields: dict[str, Any], now: datetime) -> None:
    if not fields:
        return
    city = get(session, City, actor.city_id, "city")
    email = fields.pop("contact_email", "") or city.contact_email
    if fields.get("language") not in (None, "", "en", "fr"):
        raise InvalidInput("language: the network corresponds in English or French.")
    directory.upsert_city(
        session,
        actor,
        country_code=city.country_code,
        name=city.name,
        contact_email=email,
        now=now,
        **fields,
    )


def save_application(
    session: Session,
    settings: Settings,
    actor: Actor,
    values: Mapping[str, Any],
    *,
    now: datetime,
    application_id: int | None = None,
    version: int | None = None,
) -> Application:
    """Create the city's draft, or change it, with the city's details of Part 1."""
    require_role(actor, Role.CITY, doing="fill in an application")
    city_fields, form = parse_form(values)
    if application_id is not None:
        apps.get_application(session, actor, application_id)
    _save_city(session, actor, city_fields, now)
    if application_id is None:
        return apps.create_draft(session, settings, actor, now=now, **form)
    return apps.update_draft(
        session, settings, actor, application_id, now=now, version=version, **form
    )


def act_on_application(
    session: Session,
    settings: Settings,
    actor: Actor,
    application_id: int,
    trigger: str,
    *,
    now: datetime,
    comment: str = "",
    endorsement: str = "",
    version: int | None = None,
) -> Application:
    if trigger in ("submit", "submit_direct"):
        require_signed_form(session, actor, application_id)
    if trigger == "submit":
        return apps.submit(session, settings, actor, application_id, now=now, version=version)
    if trigger == "submit_direct":
        return apps.submit_direct(
            session,
            settings,
            actor,
            application_id,
            now=now,
            endorsement=endorsement,
            version=version,
        )
    if trigger == "endorse":
        return apps.endorse(
            session, settings, actor, application_id, now=now, comment=comment, version=version
        )
    return apps.decide(
        session, settings, actor, application_id, trigger, now=now, comment=comment, version=version
    )


def act_on_report(
    session: Session,
    settings: Settings,
    actor: Actor,
    report_id: int,
    trigger: str,
    *,
    now: datetime,
    summary: str = "",
    comment: str = "",
    version: int | None = None,
) -> Report:
    if trigger == "submit":
        return memberships.submit_report(
            session, settings, actor, report_id, now=now, summary=summary, version=version
        )
    return memberships.review_report(
        session, settings, actor, report_id, trigger, now=now, comment=comment, version=version
    )


def optional_int(value: object) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value))
    except ValueError as exc:
        raise InvalidInput(f"{value!r} is not a whole number.") from exc
    if not 0 <= number <= MAX_NUMBER:
        raise InvalidInput(f"{value!r} is out of range (0 to {MAX_NUMBER:,}).")
    return number
