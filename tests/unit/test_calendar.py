"""Calendar rules, pure: window edges in many timezones, summer time, leap years, due dates.

Expected instants are written out (a local wall-clock time, or a literal UTC time), not
derived with the functions under test.
"""

from __future__ import annotations

import calendar as cal
import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import load_settings
from workflow.calendar import (
    AnnualCallRule,
    ReportRule,
    Window,
    end_of_day,
    local_date,
    on_or_before,
    start_of_day,
)

ZONES = (
    "Europe/Berlin",
    "Europe/Riga",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Pacific/Auckland",
    "America/New_York",
    "UTC",
)
SEED_CALLS = AnnualCallRule(3, 1, 4, 30, 30)
SEED_REPORTS = ReportRule(interval_years=2, first_after_years=2, due_month=3, due_day=31)
FEW = settings(max_examples=60, deadline=None)

zones = st.sampled_from(ZONES)
years = st.integers(min_value=1990, max_value=2090)


def local(
    tz: str,
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    micro: int = 0,
) -> datetime:
    """A wall-clock time in ``tz`` as an aware datetime."""
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=ZoneInfo(tz))


def seed_window(year: int, tz: str) -> Window:
    opens, closes, _ = SEED_CALLS.dates(year)
    return Window(opens, closes, tz)


@FEW
@given(year=years, tz=zones)
def test_window_edges_in_every_timezone(year: int, tz: str) -> None:
    window = seed_window(year, tz)
    last_feb = 29 if cal.isleap(year) else 28
    assert window.contains(local(tz, year, 4, 30, 23, 59, 59))
    assert window.contains(local(tz, year, 4, 30, 23, 59, 59, 999999))
    assert not window.contains(local(tz, year, 5, 1, 0, 0, 0))
    assert window.contains(local(tz, year, 3, 1, 0, 0, 0))
    assert not window.contains(local(tz, year, 2, last_feb, 23, 59, 59))
    assert window.has_closed(local(tz, year, 5, 1, 0, 0, 0))
    assert not window.has_closed(local(tz, year, 4, 30, 23, 59, 59))


@FEW
@given(year=years, tz=zones)
def test_the_same_instant_is_judged_in_the_calls_timezone(year: int, tz: str) -> None:
    # 1 May 00:30 in Tokyo is still 30 April in every zone west of it.
    instant = local("Asia/Tokyo", year, 5, 1, 0, 30)
    assert seed_window(year, "Asia/Tokyo").contains(instant) is False
    inside = local_date(instant, tz) <= date(year, 4, 30)
    assert seed_window(year, tz).contains(instant) is inside


@FEW
@given(year=years, tz=zones)
def test_a_day_starts_at_local_midnight(year: int, tz: str) -> None:
    day = date(year, 3, 31)
    assert start_of_day(day, tz) == local(tz, year, 3, 31).astimezone(UTC)
    assert end_of_day(day, tz) == local(tz, year, 4, 1).astimezone(UTC)
    assert local_date(end_of_day(day, tz) - timedelta(seconds=1), tz) == day
    assert local_date(end_of_day(day, tz), tz) == day + timedelta(days=1)


# 31 March comes right after the last Sunday of March, when Europe moves to summer time:
# Berlin is then UTC+2 and Riga UTC+3. Literal UTC instants, not derived ones.
@pytest.mark.parametrize(
    ("tz", "last_second_utc"),
    [("Europe/Berlin", (21, 59, 59)), ("Europe/Riga", (20, 59, 59))],
)
@FEW
@given(year=st.integers(min_value=2001, max_value=2090))
def test_31_march_deadline_after_the_summer_time_change(
    tz: str, last_second_utc: tuple[int, int, int], year: int
) -> None:
    due = date(year, 3, 31)
    last = datetime(year, 3, 31, *last_second_utc, tzinfo=UTC)
    assert on_or_before(last, due, tz)
    assert not on_or_before(last + timedelta(seconds=1), due, tz)
    assert end_of_day(due, tz) == last + timedelta(seconds=1)
    # Under winter time the same wall clock would be one hour later in UTC: a deadline
    # computed with the winter offset would wrongly accept this instant.
    assert not on_or_before(last + timedelta(hours=1), due, tz)


@pytest.mark.parametrize(
    ("day", "tz", "utc_end"),
    [
        # 2024: 31 March is itself the day of the change (a 23-hour day)
        (date(2024, 3, 31), "Europe/Berlin", datetime(2024, 3, 31, 22, tzinfo=UTC)),
        (date(2024, 3, 30), "Europe/Berlin", datetime(2024, 3, 30, 23, tzinfo=UTC)),
        (date(2019, 3, 31), "Europe/Riga", datetime(2019, 3, 31, 21, tzinfo=UTC)),
        (date(2019, 4, 30), "Europe/Berlin", datetime(2019, 4, 30, 22, tzinfo=UTC)),
        (date(2019, 4, 30), "Pacific/Auckland", datetime(2019, 4, 30, 12, tzinfo=UTC)),
        (date(2019, 4, 30), "America/Sao_Paulo", datetime(2019, 5, 1, 3, tzinfo=UTC)),
        (date(2019, 4, 30), "America/New_York", datetime(2019, 5, 1, 4, tzinfo=UTC)),
        (date(2019, 4, 30), "Asia/Tokyo", datetime(2019, 4, 30, 15, tzinfo=UTC)),
        (date(2019, 4, 30), "UTC", datetime(2019, 5, 1, 0, tzinfo=UTC)),
    ],
)
def test_end_of_day_literal_instants(day: date, tz: str, utc_end: datetime) -> None:
    assert end_of_day(day, tz) == utc_end
    assert on_or_before(utc_end - timedelta(seconds=1), day, tz)
    assert not on_or_before(utc_end, day, tz)


def test_seed_call_dates() -> None:
    assert SEED_CALLS.dates(2019) == (date(2019, 3, 1), date(2019, 4, 30), date(2019, 5, 30))


def test_a_call_across_new_year_closes_the_next_year() -> None:
    # 2021 ran September to November; a call from November to February spans two years.
    rule = AnnualCallRule(11, 1, 2, 29, 30)
    assert rule.dates(2023) == (date(2023, 11, 1), date(2024, 2, 29), date(2024, 3, 30))
    assert rule.dates(2024) == (date(2024, 11, 1), date(2025, 2, 28), date(2025, 3, 30))


@FEW
@given(year=years)
def test_29_february_is_clamped_in_common_years(year: int) -> None:
    rule = ReportRule(interval_years=1, first_after_years=0, due_month=2, due_day=29)
    due = rule.due_date(year, 1)
    assert due == date(year, 2, 29 if cal.isleap(year) else 28)
    call = AnnualCallRule(2, 29, 4, 30, 30)
    assert call.dates(year)[0] == date(year, 2, 29 if cal.isleap(year) else 28)


@pytest.mark.parametrize(
    ("admitted", "expected"),
    [
        (2014, [date(2016, 2, 29), date(2018, 2, 28), date(2020, 2, 29), date(2022, 2, 28)]),
        (2017, [date(2019, 2, 28), date(2021, 2, 28), date(2023, 2, 28), date(2025, 2, 28)]),
    ],
)
def test_leap_day_due_dates_written_out(admitted: int, expected: list[date]) -> None:
    rule = ReportRule(interval_years=2, first_after_years=2, due_month=2, due_day=29)
    assert rule.due_dates(admitted, date(admitted + 8, 12, 31)) == expected


def test_seed_timeline_admitted_2016() -> None:
    assert SEED_REPORTS.due_dates(2016, date(2024, 12, 31)) == [
        date(2018, 3, 31),
        date(2020, 3, 31),
        date(2022, 3, 31),
        date(2024, 3, 31),
    ]
    assert SEED_REPORTS.next_due(2016, date(2019, 1, 1)) == date(2020, 3, 31)
    assert SEED_REPORTS.next_due(2016, date(2020, 3, 31)) == date(2022, 3, 31)


def test_the_shipped_settings_give_the_seed_timeline() -> None:
    r = load_settings({}).reports
    rule = ReportRule(r.interval_years, r.first_after_years, r.due_month, r.due_day)
    assert rule.due_dates(2016, date(2022, 12, 31)) == [
        date(2018, 3, 31),
        date(2020, 3, 31),
        date(2022, 3, 31),
    ]


def test_report_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        SEED_REPORTS.due_date(2016, 0)


@settings(max_examples=120, deadline=None)
@given(
    admitted=st.integers(min_value=1950, max_value=2200),
    interval=st.integers(min_value=1, max_value=10),
    first=st.integers(min_value=0, max_value=10),
    month=st.integers(min_value=1, max_value=12),
    day=st.integers(min_value=1, max_value=31),
    span=st.integers(min_value=0, max_value=60),
)
def test_due_dates_for_any_admission_year(
    admitted: int, interval: int, first: int, month: int, day: int, span: int
) -> None:
    rule = ReportRule(interval, first, month, day)
    until = date(admitted + span, 12, 31)
    dues = rule.due_dates(admitted, until)
    for due in dues:
        assert due.month == month
        assert due.day == min(day, cal.monthrange(due.year, month)[1])
        assert due <= until
        assert due.year >= admitted  # none before the admission year
    if first <= span:
        assert dues, "at least the first report falls in the span"
        assert dues[0].year == admitted + first
    else:
        assert dues == []
    for earlier, later in itertools.pairwise(dues):
        assert later.year - earlier.year == interval
    # complete: the next one is past ``until``
    following = rule.next_due(admitted, dues[-1] if dues else date(admitted - 1, 1, 1))
    assert following > until or not dues
    assert len(dues) == (max(0, (span - first) // interval + 1) if first <= span else 0)
