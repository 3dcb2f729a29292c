"""The review sweep on the real database, with a clock the test moves: a decision waits
for a deadline (acceptance by silence over a weekend and a public holiday, a return cap
re-counted), is re-decided once when it passes, and never twice by two instances."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.credit.sweep import run_sweep, sweep_once
from shared.db import SessionFactory
from tests.integration.credit.conftest import (
    OUTBOX,
    Clock,
    apply,
    current,
    ledger_of,
    new_firm,
    new_lead,
    published,
    rules,
)

WED = datetime(2026, 11, 25, 15, tzinfo=UTC)  # the day before Thanksgiving (US)
DUE = datetime(2026, 12, 1, tzinfo=UTC)  # 2 business days: Fri 27th and Mon 30th
SILENCE_IN_2_DAYS = {
    "pays_for": "lead",
    "acceptance_business_days": 2,
    "return_window_days": 0,
    "holding_days": 0,
}


async def test_silence_is_acceptance_after_two_business_days_across_thanksgiving_and_a_weekend(
    sessions: SessionFactory,
) -> None:
    firm = await new_firm(sessions, **SILENCE_IN_2_DAYS)
    lead = await new_lead(sessions, firm, WED)
    waiting = await current(sessions, lead)
    assert waiting.state == "pending"
    assert waiting.next_review_at == DUE

    for now in (
        datetime(2026, 11, 26, 12, tzinfo=UTC),  # Thanksgiving
        datetime(2026, 11, 28, 12, tzinfo=UTC),  # Saturday
        DUE - timedelta(seconds=1),  # the last second of Monday
    ):
        await sweep_once(sessions, OUTBOX, now=now)
        assert (await current(sessions, lead)).revision == 1, now

    await sweep_once(sessions, OUTBOX, now=DUE)
    accepted = await current(sessions, lead)
    assert (accepted.revision, accepted.state, accepted.amount) == (2, "credited", Decimal("150"))
    assert accepted.decided_at == DUE  # as of the deadline, not of the sweep
    assert accepted.next_review_at is None
    assert "acceptance.by_silence" in await rules(sessions, lead)
    assert await ledger_of(sessions, lead) == [(2, Decimal("150.00"))]
    assert [e["revision"] for e in await published(sessions, lead)] == [1, 2]

    await sweep_once(sessions, OUTBOX, now=DUE + timedelta(days=3))
    assert (await current(sessions, lead)).revision == 2


async def test_an_answer_before_the_deadline_wins_over_silence(
    sessions: SessionFactory,
) -> None:
    """Silence would mean rejected; sales accepted on Friday. At the deadline the sweep
    only closes the return window (a new revision saying so); the credit stands."""
    firm = await new_firm(sessions, **SILENCE_IN_2_DAYS, silence_means="rejected")
    lead = await new_lead(sessions, firm, WED)
    await apply(sessions, firm.status(lead, "accepted", datetime(2026, 11, 27, 10, tzinfo=UTC)))
    accepted = await current(sessions, lead)
    assert (accepted.state, accepted.revision) == ("credited", 2)
    assert accepted.next_review_at == DUE  # the return window ends with the acceptance window
    await sweep_once(sessions, OUTBOX, now=DUE + timedelta(days=1))
    final = await current(sessions, lead)
    assert (final.state, final.revision, final.next_review_at) == ("credited", 3, None)
    assert "return.closed" in await rules(sessions, lead)
    assert await ledger_of(sessions, lead) == [(2, Decimal("150.00"))]


async def test_two_instances_sweeping_at_once_decide_each_lead_once(
    sessions: SessionFactory,
) -> None:
    firm = await new_firm(sessions, **SILENCE_IN_2_DAYS, silence_means="rejected")
    leads = [await new_lead(sessions, firm, WED) for _ in range(6)]
    await asyncio.gather(*(sweep_once(sessions, OUTBOX, now=DUE) for _ in range(3)))
    for lead in leads:
        row = await current(sessions, lead)
        assert (row.revision, row.state) == (2, "void")
        assert [e["revision"] for e in await published(sessions, lead)] == [1, 2]


async def test_the_sweep_runs_with_the_service_on_its_clock(sessions: SessionFactory) -> None:
    firm = await new_firm(sessions, **SILENCE_IN_2_DAYS)
    lead = await new_lead(sessions, firm, WED)
    clock = Clock(WED)
    stop = asyncio.Event()
    task = asyncio.create_task(run_sweep(sessions, OUTBOX, stop, clock=clock, every_s=0.05))
    try:
        await asyncio.sleep(0.3)
        assert (await current(sessions, lead)).state == "pending"
        clock.now = DUE + timedelta(hours=1)
        for _ in range(100):
            if (await current(sessions, lead)).state == "credited":
                break
            await asyncio.sleep(0.05)
        assert (await current(sessions, lead)).decided_at == DUE
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_a_return_cap_counts_returns_in_event_time_whatever_order_they_arrive(
    sessions: SessionFactory,
) -> None:
    """Cap 1 a month: of two returns, the earlier one voids and the later one does not —
    also when the later one was applied first (the earlier one's arrival puts the later
    one's decision up for review, and the sweep re-counts it)."""
    monday = datetime(2026, 11, 2, 9, tzinfo=UTC)
    terms = {"pays_for": "lead", "acceptance_business_days": 0, "return_cap_per_month": 1}
    finals = []
    for later_first in (False, True):
        firm = await new_firm(sessions, **terms)
        first, second = [await new_lead(sessions, firm, monday) for _ in range(2)]
        early = firm.status(first, "rejected", monday + timedelta(days=2), "not_icp")
        late = firm.status(second, "rejected", monday + timedelta(days=3), "not_icp")
        await apply(sessions, *((late, early) if later_first else (early, late)))
        await sweep_once(sessions, OUTBOX, now=monday + timedelta(days=4))
        finals.append(
            (
                (await current(sessions, first)).state,
                (await current(sessions, second)).state,
                "acceptance.return_cap" in await rules(sessions, second),
            )
        )
        second_ledger = sum(amount for _, amount in await ledger_of(sessions, second))
        assert second_ledger == Decimal("150.00")
        assert sum(amount for _, amount in await ledger_of(sessions, first)) == 0
    # credited on arrival (no acceptance step), so the voided one is a reversal
    assert finals == [("reversed", "credited", True)] * 2
    # Deciding the reversed lead again (a new fact that changes nothing) keeps it reversed:
    # not a new "not eligible" revision once its clawback is booked.
    reversed_at = await current(sessions, first)
    await apply(sessions, firm.status(first, "rejected", monday + timedelta(days=5), "not_icp"))
    again = await current(sessions, first)
    assert (again.state, again.revision) == ("reversed", reversed_at.revision)
    assert sum(amount for _, amount in await ledger_of(sessions, first)) == 0
