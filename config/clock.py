"""The ``--now`` override, parsed the same way by the ``gnlc`` command and by
``run_scheduler.py``.

A bare date means 12:00 UTC that day. Noon UTC is the same calendar day in every
timezone from UTC-11 to UTC+11, so "act as if it were 2027-03-05" is 5 March in Berlin,
Riga, New York and Manila alike: a date compared with a call's window or a country's
deadline (which are days in their own zone) lands on the day that was written. Midnight
UTC would already be the day before in the Americas.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

#: The hour (UTC) that a bare date stands for.
BARE_DATE_HOUR = 12

EXAMPLES = "2027-03-05 (12:00 UTC), 2027-03-05T10:00 (UTC) or 2027-03-05T10:00+02:00"


def parse_moment(value: str) -> datetime:
    """An ISO date or date-time as an aware UTC datetime; raises ``ValueError`` with a
    message that shows the accepted forms."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, BARE_DATE_HOUR, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a date or a date and time like {EXAMPLES}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
