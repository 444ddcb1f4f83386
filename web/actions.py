"""The portal's units of work, shared by pages and API: save the form, fire an action.

They only route to the workflow services, which check who may do what (and that a
submission has its signed form on file). Which service fires a trigger is looked up in
one mapping built from the workflow tables (``DISPATCH``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from config import Settings
from workflow.actors import Actor, require_role
from workflow.errors import InvalidInput, WorkflowError
from workflow.machines import WORKFLOWS, Step
from workflow.models import Application, City, Report
from workflow.services import applications as apps
from workflow.services import decisions, directory, submissions
from workflow.services import reports as report_service
from workflow.services.common import get
from workflow.snapshots import ApplicationView
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
        optional_int(city["population"].replace(" ", "").replace(",", ""), "field.population")
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
            raise InvalidInput(f"challenges.{area}: rate it 1 to 5.", "rating", area=area) from exc
    if challenges:
        form["challenges"] = challenges
    return city, form


def _save_city(
    session: Session, settings: Settings, actor: Actor, fields: dict[str, Any], now: datetime
) -> None:
    if not fields:
        return
    city = get(session, City, actor.city_id, "city")
    email = fields.pop("contact_email", "") or city.contact_email
    directory.upsert_city(
        session,
        actor,
        country_code=city.country_code,
        name=city.name,
        contact_email=email,
        now=now,
        languages=settings.network.languages,  # the network's languages, as on import
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
    _save_city(session, settings, actor, city_fields, now)
    if application_id is None:
        return apps.create_draft(session, settings, actor, now=now, **form)
    return apps.update_draft(
        session, settings, actor, application_id, now=now, version=version, **form
    )


@dataclass(frozen=True)
class Given:
    """What a person gave with an action, on a page or in an API body."""

    comment: str = ""
    endorsement: str = ""
    summary: str = ""
    version: int | None = None


#: A service that fires a trigger on the record ``key``: (session, settings, actor, key,
#: trigger, now, given) -> the record.
Fire = Callable[[Session, Settings, Actor, int, str, datetime, Given], Any]


def _submit(
    session: Session, settings: Settings, actor: Actor, key: int, _: str, now: datetime, g: Given
) -> ApplicationView:
    return submissions.submit(session, settings, actor, key, now=now, version=g.version)


def _submit_direct(
    session: Session, settings: Settings, actor: Actor, key: int, _: str, now: datetime, g: Given
) -> ApplicationView:
    return submissions.submit_direct(
        session, settings, actor, key, now=now, endorsement=g.endorsement, version=g.version
    )


def _endorse(
    session: Session, settings: Settings, actor: Actor, key: int, _: str, now: datetime, g: Given
) -> ApplicationView:
    return submissions.endorse(
        session, settings, actor, key, now=now, comment=g.comment, version=g.version
    )


def _decide(
    session: Session,
    settings: Settings,
    actor: Actor,
    key: int,
    trigger: str,
    now: datetime,
    g: Given,
) -> ApplicationView:
    return decisions.decide(
        session, settings, actor, key, trigger, now=now, comment=g.comment, version=g.version
    )


def _submit_report(
    session: Session, settings: Settings, actor: Actor, key: int, _: str, now: datetime, g: Given
) -> Report:
    return report_service.submit_report(
        session, settings, actor, key, now=now, summary=g.summary, version=g.version
    )


def _review_report(
    session: Session,
    settings: Settings,
    actor: Actor,
    key: int,
    trigger: str,
    now: datetime,
    g: Given,
) -> Report:
    return report_service.review_report(
        session, settings, actor, key, trigger, now=now, comment=g.comment, version=g.version
    )


#: The service of a workflow's triggers, unless ``_OWN_SERVICE`` names another.
_GENERAL: dict[str, Fire] = {"application": _decide, "report": _review_report}
_OWN_SERVICE: dict[tuple[str, str], Fire] = {
    ("application", "submit"): _submit,
    ("application", "submit_direct"): _submit_direct,
    ("application", "endorse"): _endorse,
    ("report", "submit"): _submit_report,
}
#: (workflow, trigger) -> the service that fires it, for every action the tables offer;
#: pages and API both dispatch through it.
DISPATCH: dict[tuple[str, str], Fire] = {
    (name, s.trigger): _OWN_SERVICE.get((name, s.trigger), general)
    for name, general in _GENERAL.items()
    for s in WORKFLOWS[name].offered
}


def service_for(workflow: str, trigger: str) -> Fire:
    """The service of ``trigger``; one the table does not offer goes to the workflow's
    general service, which refuses it with the domain's reason."""
    return DISPATCH.get((workflow, trigger), _GENERAL[workflow])


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
) -> ApplicationView:
    given = Given(comment=comment, endorsement=endorsement, version=version)
    found: ApplicationView = service_for("application", trigger)(
        session, settings, actor, application_id, trigger, now, given
    )
    return found


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
    given = Given(comment=comment, summary=summary, version=version)
    found: Report = service_for("report", trigger)(
        session, settings, actor, report_id, trigger, now, given
    )
    return found


def optional_int(value: object, field: str) -> int | None:
    """``value`` as a whole number the database can store, or None when blank; ``field``
    is the message id of the field's label (for the refusal)."""
    if value in (None, ""):
        return None
    try:
        number = int(str(value))
    except ValueError as exc:
        raise InvalidInput(f"{value!r} is not a whole number.", "not_number", field=field) from exc
    if not 0 <= number <= MAX_NUMBER:
        raise InvalidInput(
            f"{value!r} is out of range (0 to {MAX_NUMBER:,}).",
            "out_of_range",
            field=field,
            min=0,
            max=MAX_NUMBER,
        )
    return number


# --- what may be offered ------------------------------------------------------------------


#: Actions a person cannot take back: the page asks to confirm each one first.
CONFIRMED: dict[str, frozenset[str]] = {
    "application": frozenset(
        ("submit", "submit_direct", "endorse", "return_to_city", "decline", "start_review",
         "admit", "not_admit", "reopen", "withdraw")
    ),
    "report": frozenset(("submit", "accept", "return_for_revision")),
}  # fmt: skip


class NotConfirmed(WorkflowError):
    """An action that cannot be taken back, posted without its confirmation."""

    code = "not_confirmed"
    status = 400

    def __init__(self) -> None:
        super().__init__("Confirm the action: it cannot be undone.")


@dataclass(frozen=True)
class Offer:
    """An action of the table the person's role may fire from the record's state, and
    why it would be refused now (None: it will succeed, given the person's input)."""

    step: Step
    refused: WorkflowError | None = None

    @property
    def trigger(self) -> str:
        return self.step.trigger

    @property
    def needs_comment(self) -> bool:
        return self.step.needs_comment


def check_application_action(
    session: Session,
    settings: Settings,
    actor: Actor,
    app: Application,
    trigger: str,
    now: datetime,
) -> None:
    """Raise what the service of ``trigger`` would raise on ``app`` now, before any input
    (a comment, an endorsement) is given: the same check the service runs."""
    if trigger == "submit":
        submissions.check_submit(session, settings, actor, app, now)
    elif trigger == "submit_direct":
        submissions.check_submit_direct(session, settings, actor, app, now)
    elif trigger == "endorse":
        submissions.check_endorse(session, actor, app, now)
    else:
        decisions.check_decide(actor, app, trigger, now)


def check_report_action(actor: Actor, report: Report, trigger: str) -> None:
    """Raise what the report service of ``trigger`` would raise now (before the input)."""
    if trigger == "submit":
        report_service.check_submit_report(actor, report)
    else:
        report_service.check_review(actor, report, trigger)


def application_offers(
    session: Session, settings: Settings, actor: Actor, app: Application, now: datetime
) -> list[Offer]:
    offers = []
    for s in WORKFLOWS["application"].allowed(app.state, actor.role):
        try:
            check_application_action(session, settings, actor, app, s.trigger, now)
        except WorkflowError as exc:
            offers.append(Offer(s, exc))
        else:
            offers.append(Offer(s))
    return offers


def report_offers(actor: Actor, report: Report) -> list[Offer]:
    offers = []
    for s in WORKFLOWS["report"].allowed(report.state, actor.role):
        try:
            check_report_action(actor, report, s.trigger)
        except WorkflowError as exc:
            offers.append(Offer(s, exc))
        else:
            offers.append(Offer(s))
    return offers
