"""Calendar rules, pure: windows, deadlines and due dates, correct to the day.

A window or deadline is a calendar date that ends at 23:59:59 in a timezone; every
instant is an aware UTC ``datetime``. "Ends at 23:59:59" is taken as "before the next
local midnight", so 23:59:59.9 is still in and 00:00:00 of the next day is out, across
summer-time changes (the European change falls on the last Sunday of March, days before
the 31 March report deadline).
"""

from __future__ import annotations

import calendar as _cal
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def start_of_day(day: date, timezone: str) -> datetime:
    """The UTC instant at which ``day`` begins (local midnight) in ``timezone``."""
    return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def end_of_day(day: date, timezone: str) -> datetime:
    """The first UTC instant *after* ``day`` in ``timezone`` (the next local midnight)."""
    return start_of_day(day + timedelta(days=1), timezone)


def local_date(instant: datetime, timezone: str) -> date:
    """The calendar date of ``instant`` in ``timezone``."""
    return as_utc(instant).astimezone(ZoneInfo(timezone)).date()


def as_utc(instant: datetime) -> datetime:
    """``instant`` as an aware UTC datetime; a naive one is taken to be UTC already."""
    if instant.tzinfo is None:
        return instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)


def on_or_before(instant: datetime, day: date, timezone: str) -> bool:
    """True while ``day`` has not yet ended in ``timezone`` (deadline met)."""
    return as_utc(instant) < end_of_day(day, timezone)


def clamp_date(year: int, month: int, day: int) -> date:
    """``year-month-day``, or the month's last day when it has fewer (29 February)."""
    return date(year, month, min(day, _cal.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Window:
    """A span of whole calendar days in a timezone, both ends included."""

    opens_on: date
    closes_on: date
    timezone: str

    @property
    def opens_at(self) -> datetime:
        return start_of_day(self.opens_on, self.timezone)

    @property
    def closes_at(self) -> datetime:
        """First instant after the window (exclusive end)."""
        return end_of_day(self.closes_on, self.timezone)

    def contains(self, instant: datetime) -> bool:
        return self.opens_at <= as_utc(instant) < self.closes_at

    def has_closed(self, instant: datetime) -> bool:
        return as_utc(instant) >= self.closes_at


@dataclass(frozen=True)
class AnnualCallRule:
    """The seed's rule: cities may apply every year from 1 March to 30 April."""

    open_month: int
    open_day: int
    close_month: int
    close_day: int
    commission_deadline_days: int

    def dates(self, year: int) -> tuple[date, date, date]:
        """(opens_on, closes_on, commission_deadline) of the call of ``year``."""
        opens = clamp_date(year, self.open_month, self.open_day)
        close_year = (
            year
            if (self.close_month, self.close_day)
            >= (
                self.open_month,
                self.open_day,
            )
            else year + 1
        )
        closes = clamp_date(close_year, self.close_month, self.close_day)
        return opens, closes, closes + timedelta(days=self.commission_deadline_days)


@dataclass(frozen=True)
class ReportRule:
    """Progress reports every ``interval_years`` by ``due_month/due_day``."""

    interval_years: int
    first_after_years: int
    due_month: int
    due_day: int

    def due_date(self, admission_year: int, number: int) -> date:
        """The due date of report ``number`` (1, 2, ...) of a member admitted that year."""
        if number < 1:
            raise ValueError("report numbers start at 1")
        year = admission_year + self.first_after_years + (number - 1) * self.interval_years
        return clamp_date(year, self.due_month, self.due_day)

    def due_dates(self, admission_year: int, until: date) -> list[date]:
        """Every due date on or before ``until``, in order."""
        found: list[date] = []
        number = 1
        while (due := self.due_date(admission_year, number)) <= until:
            found.append(due)
            number += 1
        return found

    def next_due(self, admission_year: int, after: date) -> date:
        """The first due date strictly after ``after``."""
        number = 1
        while (due := self.due_date(admission_year, number)) <= after:
            number += 1
        return due
