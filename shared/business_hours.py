"""Business hours: an owner's working week as data (``BusinessHours``, on the owner
record) and its arithmetic ("N business minutes after this instant", in the owner's
working days and hours, time zone and public holidays). Pure: instants in, instants out.
The router counts SLAs in them; ops holds an owner's notifications until they open.

All arithmetic is done on UTC instants; a working day's window is built from local wall
times, so a daylight-saving switch (always at night) changes nothing but the offset.
A window is one stretch per working day (``opens`` < ``closes``, same day).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.calendar import public_holidays, supported_countries

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
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


class BusinessHours(BaseModel):
    """An owner's working week: days, one daily window in local time, the IANA time
    zone, and the country (and subdivision) whose public holidays are days off.

    ``opens`` and ``closes`` are wall times in ``timezone`` ("17:00"); a time with a UTC
    offset ("17:00:00+02:00") is refused: the zone already says where the day is, and a
    fixed offset would be wrong for half the year wherever clocks change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field(default="UTC", max_length=64)
    days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    opens: time = time(9)
    closes: time = time(17)
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2, for holidays")
    subdivision: str | None = Field(default=None, max_length=10, description="e.g. CA, BY")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value

    @field_validator("opens", "closes")
    @classmethod
    def _wall_time(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("a wall time in `timezone`, without a UTC offset")
        return value

    @field_validator("days")
    @classmethod
    def _some_days(cls, value: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if not value:
            raise ValueError("at least one working day")
        return tuple(sorted(set(value), key=WEEKDAYS.index))

    @field_validator("country")
    @classmethod
    def _supported(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in supported_countries():
            raise ValueError(f"no public holidays known for country {value!r}")
        return value.upper() if value else value

    @model_validator(mode="after")
    def _consistent(self) -> BusinessHours:
        if not self.opens < self.closes:
            raise ValueError("opens must be before closes (one window within the day)")
        if self.subdivision is not None:
            if self.country is None:
                raise ValueError("a subdivision needs a country")
            known = supported_countries()[self.country]
            if self.subdivision.upper() not in {s.upper() for s in known}:
                raise ValueError(f"{self.subdivision!r} is not a subdivision of {self.country}")
        return self

    def calendar(self) -> BusinessCalendar:
        return _calendar(self)


@lru_cache(maxsize=1024)
def _calendar(hours: BusinessHours) -> BusinessCalendar:
    """A week's calendar, built once (its holidays' rules are the costly part)."""
    subdivision = hours.subdivision.upper() if hours.subdivision else None
    return BusinessCalendar(
        timezone=ZoneInfo(hours.timezone),
        opens=hours.opens,
        closes=hours.closes,
        work_days=frozenset(WEEKDAYS.index(d) for d in hours.days),
        holidays=public_holidays(hours.country, subdivision) if hours.country else frozenset(),
    )


DEFAULT_HOURS = BusinessHours()
