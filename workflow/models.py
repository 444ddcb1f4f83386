"""SQLAlchemy 2 typed models. Instants are stored in UTC; calendar dates as dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from workflow.regions import region_of

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; pass an aware UTC instant")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


def _default_region(context: Any) -> str:
    """A new country's region: the one of its ISO code (``workflow.regions``)."""
    return region_of(context.get_current_parameters().get("code"))


class Country(Base):
    """A country and its National Commission for UNESCO."""

    __tablename__ = "countries"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)  # ISO 3166-1 alpha-2
    name: Mapped[str] = mapped_column(String(120))
    commission_name: Mapped[str] = mapped_column(String(200))
    commission_email: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(8), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    #: Its UNESCO region (a key of ``workflow.regions.REGIONS``), by default the one of
    #: its code; "" for a code that is not a member's, until an administrator sets one.
    region: Mapped[str] = mapped_column(String(32), default=_default_region, server_default="")
    #: The Commission's name per language ({lang: name}); a language without one says
    #: ``commission_name`` (see ``workflow.names``).
    commission_names: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")


class City(Base):
    """A city: Part 1 identity data of the form and its contact for mail."""

    __tablename__ = "cities"
    __table_args__ = (
        UniqueConstraint("country_code", "name"),
        # Cities by name (migration 0016). The member list no longer reads it: it reads
        # its own copy, memberships.city_name (ix_memberships_state_city_name).
        Index("ix_cities_name", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    country_code: Mapped[str] = mapped_column(ForeignKey("countries.code"), index=True)
    website: Mapped[str] = mapped_column(String(300), default="")
    mayor_name: Mapped[str] = mapped_column(String(200), default="")
    mayor_title: Mapped[str] = mapped_column(String(200), default="")
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(254))
    contact_phone: Mapped[str] = mapped_column(String(50), default="")
    # Language of communication with the network (form: English or French); mail to the
    # city is written in it.
    language: Mapped[str] = mapped_column(String(8), default="en")
    population: Mapped[int | None] = mapped_column(Integer, default=None)
    #: The city's name per language ({lang: name}) where it differs from ``name``
    #: (see ``workflow.names``).
    names: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")

    country: Mapped[Country] = relationship(lazy="joined", innerjoin=True)


class User(Base):
    """A person who signs in, with one role and, for cities and Commissions, a scope."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    country_code: Mapped[str | None] = mapped_column(ForeignKey("countries.code"), default=None)
    city_id: Mapped[int | None] = mapped_column(ForeignKey("cities.id"), default=None)
    language: Mapped[str] = mapped_column(String(8), default="en")
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class UserSession(Base):
    """A sign-in that the server can end: a browser session or an API token.

    Only the SHA-256 of the random token is stored. A session is valid while it is not
    revoked, has been used within the idle lifetime and is before ``expires_at``.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: "browser" (the cookie) or "api" (a bearer token).
    kind: Mapped[str] = mapped_column(String(8))
    label: Mapped[str] = mapped_column(String(100), default="")
    client: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class PasswordReset(Base):
    """A one-time link to choose a new password, sent by email on request ("Forgot your
    password?"). Only the token's SHA-256 is stored; a newer request replaces it."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class Call(Base):
    """A call for applications: its window, the Commission deadline and the quota."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    opens_on: Mapped[date] = mapped_column(Date, index=True)
    closes_on: Mapped[date] = mapped_column(Date)
    commission_deadline: Mapped[date] = mapped_column(Date)
    quota: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))
    generated: Mapped[bool] = mapped_column(Boolean, default=False)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    #: The day the jurors' scores are due (``workflow.services.jury``); None: not set.
    review_deadline: Mapped[date | None] = mapped_column(Date, default=None)
    created_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Announcement(Base):
    """A batch of the Institute's decisions, told at once on its date (``published_at``);
    ``corrected`` counts the decisions corrected after publication."""

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    date: Mapped[date | None] = mapped_column(Date, default=None)
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    corrected: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Application(Base):
    """A city's application in one call, on one of the two routes."""

    __tablename__ = "applications"
    __table_args__ = (
        Index("ix_applications_country_state", "country_code", "state"),
        Index("ix_applications_call_state", "call_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"), index=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("countries.code"))
    route: Mapped[str] = mapped_column(String(16), default="commission")
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Part 1 of the form beyond the city's identity.
    motivation: Mapped[str] = mapped_column(Text, default="")
    implementation_plan: Mapped[str] = mapped_column(Text, default="")
    challenges: Mapped[dict[str, Any]] = mapped_column(default=dict)
    signed_by: Mapped[str] = mapped_column(String(200), default="")
    signed_form: Mapped[str | None] = mapped_column(String(300), default=None)
    # Part 2: the Commission's endorsement (on the direct route: the reference attached).
    endorsement: Mapped[str] = mapped_column(Text, default="")
    endorsed_at: Mapped[datetime | None] = mapped_column(default=None)
    submitted_at: Mapped[datetime | None] = mapped_column(default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    # The Institute's decision is told when the announcement it belongs to is published.
    announcement_id: Mapped[int | None] = mapped_column(
        ForeignKey("announcements.id"), default=None, index=True
    )
    announced_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    call: Mapped[Call] = relationship(lazy="joined", innerjoin=True)
    city: Mapped[City] = relationship(lazy="joined", innerjoin=True)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Membership(Base):
    """A city's membership, from admission on."""

    __tablename__ = "memberships"
    __table_args__ = (
        # A page of one standing in the member list's order, read alone
        # (workflow.member_views._members_in).
        Index("ix_memberships_state_city_name", "state", "city_name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"), unique=True)
    #: The city's name, a copy for the member list's order that the database keeps
    #: (triggers of migration 0017 set it on insert and follow a rename); never written
    #: by the product.
    city_name: Mapped[str] = mapped_column(String(120), server_default="")
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    admitted_on: Mapped[date] = mapped_column(Date)
    admission_year: Mapped[int] = mapped_column(Integer)
    # Reports are owed for due dates from this day on: the admission day, or the import
    # day of a member that joined before this system kept its records.
    reports_from: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    state_since: Mapped[datetime]

    city: Mapped[City] = relationship(lazy="joined", innerjoin=True)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Report(Base):
    """One progress-report obligation of a member, for one due date."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("membership_id", "due_on"),
        Index("ix_reports_state_due", "state", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"))
    due_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    summary: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime | None] = mapped_column(default=None)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    #: The questionnaire version it is answered in (None: an old report with a summary).
    questionnaire: Mapped[str | None] = mapped_column(String(32), default=None)
    #: The answers being written, one JSON value per question key (the draft).
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)

    membership: Mapped[Membership] = relationship(lazy="joined", innerjoin=True)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ReportVersion(Base):
    """One submitted version of a questionnaire report, kept as it was sent, with the
    Institute's comments per section and its outcome (accepted, returned, or none yet)."""

    __tablename__ = "report_versions"
    __table_args__ = (UniqueConstraint("report_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    questionnaire: Mapped[str] = mapped_column(String(32))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: {question key: [file id, ...]} of the files attached when it was sent.
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)
    submitted_at: Mapped[datetime]
    submitted_by: Mapped[int | None] = mapped_column(Integer, default=None)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    #: {section key: comment} written by the Institute when it reviewed this version.
    comments: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outcome: Mapped[str] = mapped_column(String(16), default="")
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class ReportFile(Base):
    """A supporting document of a questionnaire report, kept under the uploads folder."""

    __tablename__ = "report_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"), index=True)
    question: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(200))
    stored_name: Mapped[str] = mapped_column(String(100), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]
    uploaded_by: Mapped[int | None] = mapped_column(Integer, default=None)
    #: When it was removed from the draft (kept: a submitted version may name it).
    removed_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditEvent(Base):
    """Append-only: who did what to which record, from which state to which, and when."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(Integer, default=None)
    actor_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(16), default=None)
    to_state: Mapped[str | None] = mapped_column(String(16), default=None)
    comment: Mapped[str] = mapped_column(Text, default="")


class Heartbeat(Base):
    """The last run of a periodic job (``sweep``, ``dispatch``): when and how long.

    The scheduler writes it after every run; ``/readyz`` and ``/metrics`` read it, so an
    operator learns when the scheduler has stopped.
    """

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[datetime]
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    detail: Mapped[str] = mapped_column(Text, default="")


class UploadedFile(Base):
    """A signed application form (PDF) kept on disk under the uploads folder."""

    __tablename__ = "uploaded_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    stored_name: Mapped[str] = mapped_column(String(100), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]
    uploaded_by: Mapped[int | None] = mapped_column(Integer, default=None)
    #: When a newer upload replaced this one (None: the current file).
    replaced_at: Mapped[datetime | None] = mapped_column(default=None)


class JuryAssignment(Base):
    """One application given to one juror for review (the ``assignment`` machine):
    assigned, then scored or declined (with the juror's reason)."""

    __tablename__ = "jury_assignments"
    __table_args__ = (UniqueConstraint("application_id", "juror_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    juror_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    assigned_at: Mapped[datetime]
    assigned_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    declined_at: Mapped[datetime | None] = mapped_column(default=None)
    reason: Mapped[str] = mapped_column(Text, default="")
    scored_at: Mapped[datetime | None] = mapped_column(default=None)
    #: "admit" or "not_admit" once scored; "" before.
    recommendation: Mapped[str] = mapped_column(String(16), default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    application: Mapped[Application] = relationship()
    juror: Mapped[User] = relationship(foreign_keys=[juror_id])
    scores: Mapped[list[JuryScore]] = relationship(
        back_populates="assignment", order_by="JuryScore.id"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class JuryScore(Base):
    """A juror's score (1-5) of one criterion of ``[jury] criteria``, with a comment."""

    __tablename__ = "jury_scores"
    __table_args__ = (UniqueConstraint("assignment_id", "criterion"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("jury_assignments.id"), index=True)
    criterion: Mapped[str] = mapped_column(String(60))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")

    assignment: Mapped[JuryAssignment] = relationship(back_populates="scores")
