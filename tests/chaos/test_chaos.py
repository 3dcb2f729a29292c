"""The chaos run at a bounded size (``make chaos`` runs it at full size): instances
SIGKILLed and restarted, the broker frozen, PostgreSQL restarted, under load; then the
reconciliation must find every accepted lead decided exactly once and nothing pending."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.driver import render, run


@pytest.mark.slow
def test_nothing_is_lost_or_doubled_through_kills_a_frozen_broker_and_a_database_restart(
    tmp_path: Path,
) -> None:
    tally, checks, counts = run(
        tmp_path,
        leads=1000,
        rate=40,
        kill_every_s=5,
        freeze_s=8,
        outage_every=1,
        seed=11,
        settle_s=180,
    )
    report = render(tally, checks, counts)
    print(report)
    assert tally.accepted == 1000, report
    assert tally.meetings > 0, report
    assert tally.kills >= 2, report
    assert tally.broker_freezes >= 1, report
    assert tally.database_restarts >= 1, report
    assert all(check.ok for check in checks), report
