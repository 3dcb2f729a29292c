"""Outside times stay inside the range every service can store and compute with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, ValidationError

from shared.times import EARLIEST, LATEST, OUT_OF_RANGE, EventTime, in_range


class Body(BaseModel):
    at: EventTime


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-14:00",  # year 10000 in UTC
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC (astimezone overflows)
        "1969-12-31T23:59:59Z",
        "9000-01-01T00:00:01Z",
    ],
)
def test_a_time_at_the_calendars_ends_is_refused(value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Body.model_validate({"at": value})
    assert OUT_OF_RANGE in str(refused.value)


def test_the_bounds_and_any_offset_inside_are_kept() -> None:
    east = timezone(timedelta(hours=14))
    assert in_range(EARLIEST) == EARLIEST
    assert in_range(LATEST) == LATEST
    kept = Body.model_validate({"at": "2026-11-23T09:00:00+14:00"}).at
    assert kept == datetime(2026, 11, 22, 19, tzinfo=UTC)
    assert kept.tzinfo == east
