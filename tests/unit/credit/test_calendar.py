"""Business-day deadlines (SP5, docs/design.md): weekends and the contract country's
public holidays, counted in the contract's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.credit.domain.calendar import business_deadline, is_business_day

WED_BEFORE_THANKSGIVING = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "days", "country", "zone", "deadline"),
    [
        # Mon + 2 business days: due by the end of Wednesday
        (datetime(2026, 11, 2, 15, tzinfo=UTC), 2, "US", "UTC", datetime(2026, 11, 5, tzinfo=UTC)),
        # Fri + 2: Mon, Tue (the weekend does not count)
        (datetime(2026, 11, 6, 15, tzinfo=UTC), 2, "US", "UTC", datetime(2026, 11, 11, tzinfo=UTC)),
        # Wed before Thanksgiving (Thu 26th) + 2: Fri 27th, Mon 30th
        (WED_BEFORE_THANKSGIVING, 2, "US", "UTC", datetime(2026, 12, 1, tzinfo=UTC)),
        # the same days in Germany: Thanksgiving is a working day there
        (WED_BEFORE_THANKSGIVING, 2, "DE", "UTC", datetime(2026, 11, 28, tzinfo=UTC)),
        # Christmas in Germany: Thu 24th + 1 skips the 25th and 26th (public holidays) and
        # the weekend; midnight Berlin time is 23:00 UTC in winter
        (
            datetime(2026, 12, 24, 9, tzinfo=UTC),
            1,
            "DE",
            "Europe/Berlin",
            datetime(2026, 12, 28, 23, tzinfo=UTC),
        ),
        # late on Friday in UTC is already Saturday in Tokyo: Mon is the first day after
        # it, Tue the second
        (
            datetime(2026, 11, 6, 20, tzinfo=UTC),
            2,
            "JP",
            "Asia/Tokyo",
            datetime(2026, 11, 10, 15, tzinfo=UTC),
        ),
        # no acceptance step: due at once
        (WED_BEFORE_THANKSGIVING, 0, "US", "UTC", WED_BEFORE_THANKSGIVING),
    ],
)
def test_business_deadline(
    start: datetime, days: int, country: str, zone: str, deadline: datetime
) -> None:
    assert business_deadline(start, days, country=country, timezone=zone) == deadline


def test_holidays_and_weekends_are_not_business_days() -> None:
    assert not is_business_day(datetime(2026, 11, 26).date(), "US")  # Thanksgiving
    assert not is_business_day(datetime(2026, 11, 28).date(), "US")  # a Saturday
    assert is_business_day(datetime(2026, 11, 26).date(), "DE")
