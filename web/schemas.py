"""The JSON API's request and response bodies (they make the OpenAPI document).

The pages' forms are read into the same request models (``web.forms.from_form``), so a
page and the API hold one set of field limits; a page says a refusal in plain words.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Path as PathParam
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from workflow.machines import Step
from workflow.models import (
    Application,
    AuditEvent,
    Call,
    Country,
    Membership,
    Report,
    UploadedFile,
    User,
)
from workflow.services import calls as call_service
from workflow.services.directory import line_problem


def _one_line(value: str | None) -> str | None:
    """The domain's one-line rule (no line breaks or control characters), at entry."""
    problem = line_problem(value) if value is not None else None
    if problem:
        raise PydanticCustomError("one_line", "{problem}", {"problem": problem})
    return value


#: A name, a title, a phone number: one line (``workflow.services.directory.line_problem``).
OneLine = AfterValidator(_one_line)


class Problem(BaseModel):
    """Every refusal: a stable code and a message a person can act on."""

    code: str
    message: str


class SignIn(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1000)
    label: str = Field(
        "", max_length=100, description="A name for the token, shown in GET /api/v1/tokens."
    )


class Token(BaseModel):
    token: str = Field(description="Send as 'Authorization: Bearer <token>'.")
    expires_in: int = Field(description="Seconds until the token expires, if not revoked.")
    id: int = Field(description="The token's number in GET /api/v1/tokens.")
    expires_at: datetime


class TokenOut(BaseModel):
    """One of your API tokens (the token itself is shown only when it is made)."""

    id: int
    label: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    current: bool = Field(description="The token this request was sent with.")


class Me(BaseModel):
    id: int
    email: str
    name: str
    role: str
    city_id: int | None
    country_code: str | None
    language: str


class Action(BaseModel):
    trigger: str
    label: str
    needs_comment: bool

    @classmethod
    def of(cls, step: Step) -> Action:
        return cls(trigger=step.trigger, label=step.label, needs_comment=step.needs_comment)


class ApplicationIn(BaseModel):
    """Part 1 of the form; absent fields are left as they are."""

    model_config = ConfigDict(extra="forbid")

    motivation: str | None = Field(default=None, max_length=20000)
    implementation_plan: str | None = Field(default=None, max_length=20000)
    signed_by: Annotated[str | None, OneLine] = Field(default=None, max_length=200)
    challenges: dict[str, int] | None = None
    website: Annotated[str | None, OneLine] = Field(default=None, max_length=300)
    mayor_name: Annotated[str | None, OneLine] = Field(default=None, max_length=200)
    mayor_title: Annotated[str | None, OneLine] = Field(default=None, max_length=200)
    contact_name: Annotated[str | None, OneLine] = Field(default=None, max_length=200)
    contact_email: str | None = Field(default=None, max_length=254)
    contact_phone: Annotated[str | None, OneLine] = Field(default=None, max_length=50)
    language: str | None = Field(default=None, max_length=8)
    population: int | None = Field(default=None, ge=0, le=100_000_000)
    version: int | None = Field(default=None, ge=0, le=2_147_483_647)


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(default="", max_length=5000)
    endorsement: str = Field(default="", max_length=2000)
    version: int | None = Field(default=None, ge=0, le=2_147_483_647)


class ApplicationOut(BaseModel):
    id: int
    city_id: int
    city: str
    city_names: dict[str, str] = Field(
        default_factory=dict, description="The city's name per language, where it has one."
    )
    country_code: str
    call: str
    route: str
    state: str
    version: int
    motivation: str
    implementation_plan: str
    challenges: dict[str, Any]
    signed_by: str
    signed_form: bool
    endorsement: str
    submitted_at: datetime | None
    decided_at: datetime | None
    commission_deadline: date
    actions: list[Action]

    @classmethod
    def of(cls, app: Application, actions: list[Step]) -> ApplicationOut:
        return cls(
            id=app.id,
            city_id=app.city_id,
            city=app.city.name,
            city_names=dict(app.city.names),
            country_code=app.country_code,
            call=app.call.name,
            route=app.route,
            state=app.state,
            version=app.version,
            motivation=app.motivation,
            implementation_plan=app.implementation_plan,
            challenges=dict(app.challenges),
            signed_by=app.signed_by,
            signed_form=bool(app.signed_form),
            endorsement=app.endorsement,
            submitted_at=app.submitted_at,
            decided_at=app.decided_at,
            commission_deadline=app.call.commission_deadline,
            actions=[Action.of(s) for s in actions],
        )


class ApplicationDetail(ApplicationOut):
    next_steps: list[str]
    problems: list[str]
    quota: int
    quota_left: int


class Event(BaseModel):
    at: datetime
    actor: str
    role: str
    action: str
    from_state: str | None
    to_state: str | None
    comment: str

    @classmethod
    def of(cls, e: AuditEvent) -> Event:
        return cls(
            at=e.at,
            actor=e.actor_name,
            role=e.role,
            action=e.action,
            from_state=e.from_state,
            to_state=e.to_state,
            comment=e.comment,
        )


class UploadOut(BaseModel):
    filename: str
    size: int
    sha256: str

    @classmethod
    def of(cls, f: UploadedFile) -> UploadOut:
        return cls(filename=f.filename, size=f.size, sha256=f.sha256)


class ReportOut(BaseModel):
    id: int
    membership_id: int
    city: str
    city_names: dict[str, str] = Field(
        default_factory=dict, description="The city's name per language, where it has one."
    )
    due_on: date
    state: str
    version: int
    summary: str
    late: bool
    submitted_at: datetime | None
    actions: list[Action]

    @classmethod
    def of(cls, r: Report, actions: list[Step]) -> ReportOut:
        return cls(
            id=r.id,
            membership_id=r.membership_id,
            city=r.membership.city.name,
            city_names=dict(r.membership.city.names),
            due_on=r.due_on,
            state=r.state,
            version=r.version,
            summary=r.summary,
            late=r.late,
            submitted_at=r.submitted_at,
            actions=[Action.of(s) for s in actions],
        )


class ReportSubmitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary: str = Field(max_length=50000)
    version: int | None = Field(default=None, ge=0, le=2_147_483_647)


class ReportReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trigger: str = Field(description="accept or return_for_revision", max_length=40)
    comment: str = Field(default="", max_length=5000)
    version: int | None = Field(default=None, ge=0, le=2_147_483_647)


class MemberOut(BaseModel):
    id: int
    city_id: int
    city: str
    city_names: dict[str, str] = Field(
        default_factory=dict, description="The city's name per language, where it has one."
    )
    country_code: str
    state: str
    admitted_on: date
    overdue_reports: int
    next_due: date | None

    @classmethod
    def of(cls, m: Membership, overdue: int, next_due: date | None) -> MemberOut:
        return cls(
            id=m.id,
            city_id=m.city_id,
            city=m.city.name,
            city_names=dict(m.city.names),
            country_code=m.city.country_code,
            state=m.state,
            admitted_on=m.admitted_on,
            overdue_reports=overdue,
            next_due=next_due,
        )


class CallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60)
    opens_on: date
    closes_on: date
    commission_deadline: date | None = None
    quota: int | None = Field(default=None, ge=1, le=1000)
    timezone: str | None = Field(default=None, max_length=64)


class CallExtendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    closes_on: date | None = None
    commission_deadline: date | None = None
    comment: str = Field(default="", max_length=2000)
    version: int | None = Field(default=None, ge=0, le=2_147_483_647)


class CallCancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000)
    version: int | None = Field(default=None, ge=0, le=2_147_483_647)


class CallOut(BaseModel):
    name: str
    opens_on: date
    closes_on: date
    commission_deadline: date
    quota: int
    timezone: str
    cancelled: bool
    #: upcoming, open, closed (the Commissions decide), finished or cancelled, at the
    #: moment of the answer (``workflow.services.calls.status``).
    status: str
    #: What may still be done with it: the window made longer, the Commission deadline
    #: later, the call cancelled.
    can_extend_window: bool
    can_extend_deadline: bool
    can_cancel: bool
    version: int

    @classmethod
    def of(cls, c: Call, now: datetime) -> CallOut:
        return cls(
            name=c.name,
            opens_on=c.opens_on,
            closes_on=c.closes_on,
            commission_deadline=c.commission_deadline,
            quota=c.quota,
            timezone=c.timezone,
            cancelled=c.cancelled_at is not None,
            status=call_service.status(c, now).value,
            can_extend_window=call_service.can_extend_window(c, now),
            can_extend_deadline=call_service.can_extend_deadline(c, now),
            can_cancel=call_service.can_cancel(c, now),
            version=c.version,
        )


class CountryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, OneLine] = Field(max_length=120)
    commission_name: Annotated[str, OneLine] = Field(default="", max_length=200)
    commission_names: dict[str, Annotated[str, OneLine]] | None = Field(
        default=None,
        description="The Commission's name per language ({lang: name}); a language left "
        "out keeps its name, a blank one removes it. Omitted: all kept.",
    )
    commission_email: str = Field(max_length=254)
    language: str = Field(default="en", max_length=8)
    timezone: str = Field(default="UTC", max_length=64)
    region: str = Field(
        default="",
        max_length=32,
        description="A UNESCO region (workflow.regions.REGIONS); blank: the country's own.",
    )


class CountryOut(BaseModel):
    code: str
    name: str
    commission_name: str
    commission_names: dict[str, str]
    commission_email: str
    language: str
    timezone: str
    region: str

    @classmethod
    def of(cls, c: Country) -> CountryOut:
        return cls(
            code=c.code,
            name=c.name,
            commission_name=c.commission_name,
            commission_names=dict(c.commission_names),
            commission_email=c.commission_email,
            language=c.language,
            timezone=c.timezone,
            region=c.region,
        )


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=254)
    name: Annotated[str, OneLine] = Field(default="", max_length=200)
    role: str = Field(max_length=16)
    country_code: str | None = Field(default=None, max_length=2)
    city_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    language: str = Field(default="en", max_length=8)
    invite: bool = True


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    role: str
    city_id: int | None
    country_code: str | None
    language: str
    active: bool
    has_password: bool

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(
            id=u.id,
            email=u.email,
            name=u.name,
            role=u.role,
            city_id=u.city_id,
            country_code=u.country_code,
            language=u.language,
            active=u.active,
            has_password=bool(u.password_hash),
        )


class Transition(BaseModel):
    source: str
    trigger: str
    dest: str
    roles: list[str]


class WorkflowOut(BaseModel):
    name: str
    initial: str
    states: list[str]
    transitions: list[Transition]


#: Record numbers are database integers: anything outside is refused before a query.
MAX_ID = 2_147_483_647
Id = Annotated[int, PathParam(ge=1, le=MAX_ID, description="A record's number.")]
