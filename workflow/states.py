"""States of the three workflows, and the roles that act on them."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CITY = "city"  #: staff of one city: apply, report
    COMMISSION = "commission"  #: a National Commission: endorses its country's cities
    INSTITUTE = "institute"  #: the network secretariat (UIL): admits, reviews reports
    ADMIN = "admin"  #: configuration, calls, users
    JUROR = "juror"  #: an expert the Institute invites: scores the applications assigned
    SYSTEM = "system"  #: the scheduler's sweep


class ApplicationState(StrEnum):
    DRAFT = "draft"  #: being written by the city
    SUBMITTED = "submitted"  #: with the National Commission
    RETURNED = "returned"  #: back with the city for changes
    DECLINED = "declined"  #: not endorsed by the Commission
    FORWARDED = "forwarded"  #: endorsed, with the Institute
    UNDER_REVIEW = "under_review"  #: the Institute and its jury are reviewing it
    ADMITTED = "admitted"  #: the city is a member
    NOT_ADMITTED = "not_admitted"  #: the Institute decided against
    WITHDRAWN = "withdrawn"  #: the city withdrew it
    EXPIRED = "expired"  #: never submitted before its deadline


class MembershipState(StrEnum):
    ACTIVE = "active"  #: in good standing
    OVERDUE = "overdue"  #: a progress report is past due
    INACTIVE = "inactive"  #: overdue past the grace period
    REMOVED = "removed"  #: removed by the Institute
    WITHDRAWN = "withdrawn"  #: the city left the network


class ReportState(StrEnum):
    OPEN = "open"  #: due, not yet submitted
    OVERDUE = "overdue"  #: past its due date, not yet submitted
    SUBMITTED = "submitted"  #: with the Institute
    ACCEPTED = "accepted"  #: accepted by the Institute
    RETURNED = "returned"  #: back with the city for revision


class AssignmentState(StrEnum):
    """An application given to one juror (``workflow.services.jury``)."""

    ASSIGNED = "assigned"  #: with the juror, not scored yet
    SCORED = "scored"  #: the juror submitted their scores and recommendation
    DECLINED = "declined"  #: the juror declined it (for example a conflict of interest)


class Route(StrEnum):
    COMMISSION = "commission"  #: city -> Commission -> Institute (seed, main route)
    DIRECT = "direct"  #: city -> Institute with the Commission's endorsement attached


class AnnouncementState(StrEnum):
    DRAFT = "draft"  #: being put together by the Institute, told to nobody
    PUBLISHED = "published"  #: published on its date: its decisions are told
    CORRECTED = "corrected"  #: published, and a decision in it corrected since
