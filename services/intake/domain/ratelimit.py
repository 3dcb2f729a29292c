"""A token bucket per caller (API key, client IP): ``rate`` requests a second on average,
bursts up to ``burst``. Pure: the clock is passed in.

Buckets live in the process ("intake instances are stateless", docs/design.md: with N
instances behind a balancer a caller may get up to N times the rate; a shared store is the
upgrade path)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class TokenBuckets:
    rate: float
    burst: float
    max_callers: int = 100_000
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, caller: str, now: float, cost: float = 1.0) -> float:
        """Take ``cost`` tokens. Returns 0 when allowed, else the seconds to wait."""
        tokens, last = self._state.get(caller, (self.burst, now))
        tokens = min(self.burst, tokens + max(0.0, now - last) * self.rate)
        if tokens >= cost:
            self._remember(caller, (tokens - cost, now))
            return 0.0
        self._remember(caller, (tokens, now))
        return (cost - tokens) / self.rate if self.rate > 0 else math.inf

    def _remember(self, caller: str, state: tuple[float, float]) -> None:
        if caller not in self._state and len(self._state) >= self.max_callers:
            # Bounded memory under a flood of distinct callers: forget the oldest.
            self._state.pop(next(iter(self._state)))
        self._state[caller] = state


def retry_after(wait_s: float) -> str:
    """The Retry-After header value (whole seconds, at least 1)."""
    return str(max(1, math.ceil(min(wait_s, 3600.0))))
