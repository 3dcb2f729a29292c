"""Times that come from outside (an activity's or a meeting's time, a webhook's event
time): aware, and inside the range every service can store and compute windows from.
PostgreSQL's timestamptz and Python's datetime both end at year 9999, and a time at
either end overflows once a window is added or it is moved to UTC.

And a service's own notion of now, ``Clock``, injected where time decides something."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

from shared.events.envelope import utcnow

Clock = Callable[[], datetime]
"""Now, for what a service decides by time (the router's routing time, stage changes and
SLA timers; credit's review sweep): UTC now in production (``SYSTEM_CLOCK``), a clock the
test moves in tests (no sleeping until business hours or a deadline)."""

SYSTEM_CLOCK: Clock = utcnow

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
OUT_OF_RANGE = f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}"


def in_range(value: datetime) -> datetime:
    """``value`` (aware) if it lies in [EARLIEST, LATEST]; else ValueError(OUT_OF_RANGE)."""
    try:
        inside = EARLIEST <= value.astimezone(UTC) <= LATEST
    except OverflowError:  # 0001-01-01T00:00+14:00 is before year 1 in UTC
        inside = False
    if not inside:
        raise ValueError(OUT_OF_RANGE)
    return value


EventTime = Annotated[AwareDatetime, AfterValidator(in_range)]
"""An aware datetime in [EARLIEST, LATEST], for request bodies (a 422 naming the field)."""
