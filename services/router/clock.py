"""The router's notion of now, for routing time, stage changes and SLA timers: UTC now
in production, a clock the test moves in tests (no sleeping until business hours)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared.events.envelope import utcnow

Clock = Callable[[], datetime]

SYSTEM_CLOCK: Clock = utcnow
