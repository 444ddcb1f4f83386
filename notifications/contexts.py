"""What the templates may say: the context of each occasion, built from its subject.

Every template also gets ``recipient``, ``date`` and ``lang``. A context that names the
network carries ``network_names`` (by language, from the settings) and one that names a
country its ``country_code``: :func:`notifications.render.render` says ``network`` and
``country`` in the recipient's language from them; likewise ``commission`` and ``city``
from ``commission_names`` and ``city_names`` (see :mod:`workflow.names`), which a
context naming a Commission or a city carries. Which occasion uses which
builder is said in :mod:`notifications.table`. The sweep's occasions get:

``call_opened``
    call, opens_on, closes_on, commission_deadline, timezone, quota, network, url,
    audience ("commission" or "city"), name (the Commission's or the city's name)
``draft_reminder``
    the call keys, application_id, city, returned (bool), deadline (closes_on for a
    draft, commission_deadline for a returned application), days_left, url
``commission_reminder`` (one per Commission and round)
    the call keys, commission, country, days_left, url, pending: a list of
    {application_id, city, submitted_on, url}
``report_reminder`` / ``report_due_today`` / ``report_overdue``
    report_id, city, country, commission, due_on, timezone, days_left, days_overdue,
    escalated (bool), grace_until (the last day before the membership becomes inactive),
    network, url
``membership_inactive``
    city, country, commission, due_on (the oldest overdue report), grace_days,
    inactive_since, network, url

The report reminders' context is written once, in :func:`report_reminder`, over
:class:`Terms`: :class:`Values` evaluates it in Python (one message at a time) and
``notifications.report_sql`` evaluates the same function as SQL expressions (the sweep's
``INSERT ... SELECT``), so the two paths cannot say different things.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, Protocol

from config import Settings
from workflow.events import Event
from workflow.models import Application, Call, Country, Membership, Report, User
from workflow.reminders import ReportRound, escalated
from workflow.snapshots import ApplicationView


def portal(settings: Settings, path: str) -> str:
    return f"{settings.web.public_url.rstrip('/')}/{path.lstrip('/')}"


# -- events (the services' transitions) ------------------------------------------------


def application(app: ApplicationView, settings: Settings, event: Event) -> dict[str, Any]:
    call = app.call
    return {
        "application_id": app.id,
        "city": app.city.name,
        "city_names": dict(app.city.names),
        "country": app.city.country.name,
        "country_code": app.city.country.code,
        "commission": app.city.country.commission_name,
        "commission_names": dict(app.city.country.commission_names),
        "call": call.name,
        "opens_on": call.opens_on,
        "closes_on": call.closes_on,
        "commission_deadline": call.commission_deadline,
        "timezone": call.timezone,
        "comment": event.comment,
        "endorsement": app.endorsement,
        "network": settings.network.name,
        "network_names": dict(settings.network.names),
        "url": portal(settings, f"/applications/{app.id}"),
    }


def decision_corrected(app: Application, settings: Settings, event: Event) -> dict[str, Any]:
    """An announced decision corrected: ``application`` and ``admitted`` (the decision now),
    ``announced_on`` (the announcement's date) and ``comment`` (the reason)."""
    return {
        **application(app, settings, event),
        "admitted": app.state == "admitted",
        "announced_on": event.facts.get("announced_on"),
        "announcement": event.facts.get("announcement", ""),
    }


def report(report: Report, settings: Settings, event: Event) -> dict[str, Any]:
    """A report's submission and review (the submission's comment is for the audit only)."""
    city = report.membership.city
    return {
        "report_id": report.id,
        "city": city.name,
        "city_names": dict(city.names),
        "country": city.country.name,
        "country_code": city.country.code,
        "due_on": report.due_on,
        "late": report.late,
        "comment": "" if event.trigger == "submit" else event.comment,
        "network": settings.network.name,
        "network_names": dict(settings.network.names),
        "url": portal(settings, f"/reports/{report.id}"),
    }


def membership(m: Membership, settings: Settings, event: Event) -> dict[str, Any]:
    return {
        "city": m.city.name,
        "city_names": dict(m.city.names),
        "country": m.city.country.name,
        "country_code": m.city.country.code,
        "comment": event.comment,
        "network": settings.network.name,
        "network_names": dict(settings.network.names),
    }


def membership_inactive(m: Membership, settings: Settings, event: Event) -> dict[str, Any]:
    """The sweep made ``m`` inactive: facts ``first_due`` and ``inactive_since``."""
    country = m.city.country
    return {
        "city": m.city.name,
        "city_names": dict(m.city.names),
        "country": country.name,
        "country_code": country.code,
        "commission": country.commission_name,
        "commission_names": dict(country.commission_names),
        "due_on": event.facts["first_due"],
        "grace_days": settings.reports.grace_days,
        "inactive_since": event.facts["inactive_since"],
        "network": settings.network.name,
        "network_names": dict(settings.network.names),
        "url": portal(settings, f"/members/{m.id}"),
    }


def invitation(user: User, settings: Settings, event: Event) -> dict[str, Any]:
    """An invitation (facts ``url`` and ``expires_at``)."""
    return {
        "name": user.name,
        "role": user.role,
        "url": event.facts["url"],
        "expires_at": event.facts["expires_at"],
        "network": settings.network.name,
        "network_names": dict(settings.network.names),
    }


# -- reminder occasions (the sweep) ------------------------------------------------------


def call(c: Call, settings: Settings) -> dict[str, Any]:
    return {
        "call": c.name,
        "opens_on": c.opens_on,
        "closes_on": c.closes_on,
        "commission_deadline": c.commission_deadline,
        "timezone": c.timezone,
        "quota": c.quota,
        "network": settings.network.name,
        "network_names": dict(settings.network.names),
        "url": portal(settings, "/"),
    }


def call_opened(c: Call, settings: Settings, *, audience: str, name: str) -> dict[str, Any]:
    return {**call(c, settings), "audience": audience, "name": name}


def draft_reminder(
    c: Call,
    settings: Settings,
    *,
    application_id: int,
    city: str,
    returned: bool,
    deadline: date,
    today: date,
) -> dict[str, Any]:
    return {
        **call(c, settings),
        "application_id": application_id,
        "city": city,
        "returned": returned,
        "deadline": deadline,
        "days_left": (deadline - today).days,
        "url": portal(settings, f"/applications/{application_id}"),
    }


def commission_reminder(
    c: Call, settings: Settings, *, country: Country, pending: list[dict[str, Any]], today: date
) -> dict[str, Any]:
    return {
        **call(c, settings),
        "commission": country.commission_name,
        "commission_names": dict(country.commission_names),
        "country": country.name,
        "country_code": country.code,
        "pending": pending,
        "days_left": (c.commission_deadline - today).days,
        "url": portal(settings, "/applications"),
    }


def jury_review(
    c: Call,
    settings: Settings,
    *,
    juror: str,
    pending: list[dict[str, Any]],
    today: date,
) -> dict[str, Any]:
    """A juror's reminder of the call's review deadline: their unfinished assignments."""
    deadline = c.review_deadline or today
    return {
        **call(c, settings),
        "juror": juror,
        "review_deadline": deadline,
        "pending": pending,
        "days_left": (deadline - today).days,
        "url": portal(settings, "/jury"),
    }


class Terms(Protocol):
    """The parts of one report reminder: Python values, or SQL expressions."""

    report_id: Any
    city_name: Any
    city_names: Any
    country_name: Any
    country_code: Any
    commission_name: Any
    commission_names: Any
    timezone: Any

    def day(self, value: date) -> Any: ...
    def per_zone(self, values: Mapping[str, int]) -> Any: ...
    def boolean(self, value: bool) -> Any: ...
    def text(self, value: str) -> Any: ...
    def names(self, values: Mapping[str, str]) -> Any: ...
    def url(self, prefix: str, key: Any) -> Any: ...


def report_reminder(x: Terms, settings: Settings, group: ReportRound) -> dict[str, Any]:
    """report_reminder, report_due_today, report_overdue: one report, one round."""
    due = group.due
    return {
        "report_id": x.report_id,
        "city": x.city_name,
        "city_names": x.city_names,
        "country": x.country_name,
        "country_code": x.country_code,
        "commission": x.commission_name,
        "commission_names": x.commission_names,
        "due_on": x.day(due),
        "timezone": x.timezone,
        "days_left": x.per_zone({tz: (due - t).days for tz, t in group.todays.items()}),
        "days_overdue": x.per_zone({tz: max((t - due).days, 0) for tz, t in group.todays.items()}),
        "escalated": x.boolean(escalated(group.found, settings)),
        "grace_until": x.day(due + timedelta(days=settings.reports.grace_days)),
        "network": x.text(settings.network.name),
        "network_names": x.names(settings.network.names),
        "url": x.url(portal(settings, "/reports/"), x.report_id),
    }


class Values:
    """:class:`Terms` as Python values: one report of a round, in its country's zone."""

    def __init__(
        self,
        report_id: int,
        city_name: str,
        country: Country,
        city_names: Mapping[str, Any] | None = None,
    ) -> None:
        self.report_id = report_id
        self.city_name = city_name
        self.city_names = dict(city_names or {})
        self.country_name = country.name
        self.country_code = country.code
        self.commission_name = country.commission_name
        self.commission_names = dict(country.commission_names)
        self.timezone = country.timezone

    def day(self, value: date) -> Any:
        return value

    def per_zone(self, values: Mapping[str, int]) -> Any:
        return values[self.timezone]

    def boolean(self, value: bool) -> Any:
        return value

    def text(self, value: str) -> Any:
        return value

    def names(self, values: Mapping[str, str]) -> Any:
        return dict(values)

    def url(self, prefix: str, key: Any) -> Any:
        return f"{prefix}{key}"
