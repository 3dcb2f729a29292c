"""A backtest finished (topic ``backtests.finished``, keyed by backtest id, one
partition): what a draft rule set or contract would have done to past leads, in summary,
for the ops dashboard's before/after view. The whole result (every owner per day, the
samples with both traces, each changed lead) stays with the service that ran it
(``GET /v1/routing/backtests/{id}``, ``GET /v1/firms/{firm}/contract/backtests/{id}``).

Not a live topic: nothing routes or credits from it. A draft contract is the company's,
not the firm's to see, so the firm is carried as ``firm`` (never ``firm_id``: ops files
an event under the firm named by ``firm_id``, and a partner key sees those)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.base import Event
from shared.events.topics import BACKTESTS_FINISHED

BARS = 50  # the largest moves kept for the chart
MOVES = 20


class Bar(BaseModel):
    """One bar pair of the before/after chart: an owner's leads, a month's amount."""

    model_config = ConfigDict(frozen=True)

    label: str
    before: Decimal
    after: Decimal


class Move(BaseModel):
    """Leads that moved from one thing to another (a rule, an owner, a state)."""

    model_config = ConfigDict(frozen=True)

    before: str
    after: str
    leads: int


class BacktestFinished(Event):
    event_type = "leadflow.backtest.finished.v1"
    topic = BACKTESTS_FINISHED

    backtest_id: UUID
    kind: Literal["routing", "credit"]
    backtested: str = Field(description="The rule set's version, or the terms: draft or firm/vN")
    firm: str | None = Field(default=None, description="The firm whose contract it was")
    window_from: date
    window_to: date
    leads: int
    differences: int
    unit: str = Field(description="What the bars count: leads, or a currency")
    bars: list[Bar] = Field(max_length=BARS)  # the largest before/after gaps first
    moves: list[Move] = Field(max_length=MOVES)
    ran_by: str
    finished_at: AwareDatetime

    def partition_key(self) -> str:
        return str(self.backtest_id)

    def subject(self) -> str:
        return f"backtest/{self.backtest_id}"

    def event_time(self) -> datetime:
        return self.finished_at


def largest_gaps(bars: list[Bar]) -> list[Bar]:
    """The bars whose before and after differ most (then by label), at most ``BARS``."""
    return sorted(bars, key=lambda b: (-abs(b.after - b.before), b.label))[:BARS]
