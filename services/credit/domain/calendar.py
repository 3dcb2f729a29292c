"""Business days for the contract's deadlines (SP5, docs/design.md: "sales must accept or
reject within N business days"): weekends and the public holidays of the contract's
country, counted in the contract's time zone. The holiday tables are the ``holidays``
package's data: no I/O, so a deadline is a pure function of its inputs."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.calendar import public_holidays


def is_business_day(day: date, country: str) -> bool:
    return day.weekday() < 5 and day not in public_holidays(country)


def business_deadline(start: datetime, days: int, *, country: str, timezone: str) -> datetime:
    """The end of the ``days``-th business day after ``start``'s local day (midnight after
    it, in UTC): a lead handed over on a Friday with 2 days is due by the end of Tuesday,
    by the end of Wednesday if Monday is a public holiday. 0 days: ``start`` itself."""
    if days == 0:
        return start
    zone = ZoneInfo(timezone)
    day = start.astimezone(zone).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        counted += is_business_day(day, country)
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
