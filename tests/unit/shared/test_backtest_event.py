"""The backtest summary ops draws: the largest before/after gaps first and bounded, keyed
and filed by the backtest, never under a firm."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from pydantic import ValidationError

from shared.events.backtests import BARS, BacktestFinished, Bar, largest_gaps


def bar(label: str, before: int, after: int) -> Bar:
    return Bar(label=label, before=Decimal(before), after=Decimal(after))


def test_the_largest_gaps_come_first_and_at_most_the_chart_s_worth() -> None:
    bars = [bar(f"own-{n:03d}", n, 0) for n in range(BARS + 10)] + [bar("steady", 9, 9)]
    kept = largest_gaps(bars)
    assert len(kept) == BARS
    assert kept[0].label == f"own-{BARS + 9:03d}"  # the biggest move first
    assert "steady" not in {b.label for b in kept}
    assert largest_gaps([bar("b", 1, 2), bar("a", 2, 1)]) == [bar("a", 2, 1), bar("b", 1, 2)]


def test_the_event_is_keyed_by_its_backtest_and_names_no_firm_id() -> None:
    event = BacktestFinished(
        backtest_id=uuid4(),
        kind="credit",
        backtested="draft",
        firm="acme-outreach",
        window_from=date(2026, 11, 1),
        window_to=date(2026, 12, 1),
        leads=10,
        differences=2,
        unit="USD",
        bars=[bar("2026-11", 700, 1000)],
        moves=[],
        ran_by="ops",
        finished_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert event.partition_key() == str(event.backtest_id)
    assert event.subject() == f"backtest/{event.backtest_id}"
    data = event.envelope("/credit").data
    assert "firm_id" not in data  # ops would file it under the firm, for its partner key
    with pytest.raises(ValidationError):
        BacktestFinished.model_validate({**data, "bars": [bar("x", 1, 2)] * (BARS + 1)})
