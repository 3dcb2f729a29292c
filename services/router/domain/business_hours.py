"""Business-hours arithmetic: "N business minutes after this instant", in an owner's
working days and hours, time zone and public holidays. Pure: instants in, instants out.

All arithmetic is done on UTC instants; a working day's window is built from local wall
times, so a daylight-saving switch (always at night) changes nothing but the offset.
A window is one stretch per working day (``opens`` < ``closes``, same day).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 3660  # ten years of calendar: a calendar with no working day in it is an error


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: ZoneInfo
    opens: time = time(9)
    closes: time = time(17)
    work_days: frozenset[int] = frozenset(range(5))  # date.weekday(): Monday is 0
    holidays: Container[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.opens < self.closes:
            raise ValueError("a working day must open before it closes")
        if not self.work_days or not self.work_days <= set(range(7)):
            raise ValueError("work_days are weekday numbers 0 (Monday) to 6, at least one")

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's working hours as UTC instants; None on a day off."""
        if day.weekday() not in self.work_days or day in self.holidays:
            return None
        opens = datetime.combine(day, self.opens, tzinfo=self.timezone).astimezone(UTC)
        closes = datetime.combine(day, self.closes, tzinfo=self.timezone).astimezone(UTC)
        return opens, closes


def _local_day(calendar: BusinessCalendar, instant: datetime) -> date:
    if instant.tzinfo is None:
        raise ValueError("business hours need an aware datetime")
    return instant.astimezone(calendar.timezone).date()


def add_business_minutes(calendar: BusinessCalendar, start: datetime, minutes: int) -> datetime:
    """The instant ``minutes`` business minutes after ``start`` (UTC). Zero minutes is
    the first business instant at or after ``start``; a deadline that ends exactly at
    closing time is that closing time, not the next opening."""
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    remaining = timedelta(minutes=minutes)
    cursor = start.astimezone(UTC)
    day = _local_day(calendar, start)
    for _ in range(MAX_DAYS):
        window = calendar.window(day)
        if window is not None:
            begin = max(cursor, window[0])
            if begin <= window[1]:
                available = window[1] - begin
                if remaining <= available and (remaining or begin < window[1]):
                    return begin + remaining
                remaining -= available
        day += timedelta(days=1)
    raise ValueError(f"no business hours within {MAX_DAYS} days of {start.isoformat()}")


def business_minutes_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Business minutes from ``start`` to ``end`` (0 when ``end`` is not after it)."""
    total = timedelta()
    day, last = _local_day(calendar, start), _local_day(calendar, end)
    while day <= last:
        window = calendar.window(day)
        if window is not None:
            begin, finish = max(start, window[0]), min(end, window[1])
            if finish > begin:
                total += finish - begin
        day += timedelta(days=1)
    return total / timedelta(minutes=1)
