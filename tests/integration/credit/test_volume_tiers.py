"""Volume tiers on the real database: a meeting is priced by its rank among the firm's
meetings credited that month in event time — whatever order the facts arrive in, and
however often its lead is decided again later in the month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from services.credit.sweep import sweep_once
from shared.db import SessionFactory
from tests.integration.credit.conftest import (
    OUTBOX,
    Firm,
    apply,
    apply_batch,
    current,
    ledger_of,
    new_firm,
    new_lead,
)

MONDAY = datetime(2026, 11, 2, 9, tzinfo=UTC)
TWO_TIERS = {
    "pays_for": "meeting",
    "holding_days": 0,
    "meeting_tiers": [{"from_nth": 1, "price": "350.00"}, {"from_nth": 2, "price": "150.00"}],
}


async def booked(
    sessions: SessionFactory, firm_terms: dict[str, object]
) -> tuple[Firm, list[UUID], list[UUID]]:
    firm = await new_firm(sessions, **firm_terms)
    leads = [await new_lead(sessions, firm, MONDAY) for _ in range(2)]
    meetings = [uuid4() for _ in leads]
    await apply(
        sessions,
        *(firm.meeting(lead, m, "booked", MONDAY) for lead, m in zip(leads, meetings, strict=True)),
    )
    return firm, leads, meetings


async def paid(sessions: SessionFactory, lead: UUID) -> Decimal:
    return sum((amount for _, amount in await ledger_of(sessions, lead)), Decimal("0.00"))


async def test_the_months_first_held_meeting_earns_the_first_tier_whatever_arrives_first(
    sessions: SessionFactory,
) -> None:
    """The earlier meeting (held Tuesday) is the month's first also when the later one
    (Wednesday) was applied first, in a transaction before it or earlier in the same
    poll's batch: its arrival puts the later one up for review, and the sweep prices it
    second."""
    for later_first, one_batch in ((False, False), (True, False), (False, True), (True, True)):
        firm, (early, late), (m_early, m_late) = await booked(sessions, TWO_TIERS)
        held_early = firm.meeting(early, m_early, "held", MONDAY + timedelta(days=1))
        held_late = firm.meeting(late, m_late, "held", MONDAY + timedelta(days=2))
        held = (held_late, held_early) if later_first else (held_early, held_late)
        await (apply_batch if one_batch else apply)(sessions, *held)
        await sweep_once(sessions, OUTBOX, now=MONDAY + timedelta(days=3))
        assert (await paid(sessions, early), await paid(sessions, late)) == (
            Decimal("350.00"),
            Decimal("150.00"),
        ), f"later first: {later_first}, one batch: {one_batch}"
        reasons = [r["sentence"] for r in (await current(sessions, late)).event["reasons"]]
        assert "The meeting earns 150.00 USD, the 2nd credited in 2026-11." in reasons


async def test_deciding_an_early_lead_again_later_in_the_month_keeps_its_price(
    sessions: SessionFactory,
) -> None:
    """Sales accepts the early lead after the later meeting was credited: the early
    meeting stays the month's first (the old count would have made it the second)."""
    firm, (early, late), (m_early, m_late) = await booked(sessions, TWO_TIERS)
    await apply(
        sessions,
        firm.meeting(early, m_early, "held", MONDAY + timedelta(days=1)),
        firm.meeting(late, m_late, "held", MONDAY + timedelta(days=2)),
    )
    before = (await current(sessions, early)).revision
    await apply(sessions, firm.status(early, "accepted", MONDAY + timedelta(days=10)))
    await sweep_once(sessions, OUTBOX, now=MONDAY + timedelta(days=11))
    assert await paid(sessions, early) == Decimal("350.00")
    assert await paid(sessions, late) == Decimal("150.00")
    assert (await current(sessions, early)).revision >= before


async def test_a_meeting_that_stops_counting_moves_the_later_ones_up(
    sessions: SessionFactory,
) -> None:
    """Sales flags the month's first meeting as bad: the second becomes the first and is
    repriced up once the sweep reviews it."""
    firm, (early, late), (m_early, m_late) = await booked(sessions, TWO_TIERS)
    await apply(
        sessions,
        firm.meeting(early, m_early, "held", MONDAY + timedelta(days=1)),
        firm.meeting(late, m_late, "held", MONDAY + timedelta(days=2)),
    )
    assert await paid(sessions, late) == Decimal("150.00")
    await apply(
        sessions,
        firm.meeting(
            early, m_early, "flagged_bad", MONDAY + timedelta(days=3), reported_by="sales"
        ),
    )
    await sweep_once(sessions, OUTBOX, now=MONDAY + timedelta(days=4))
    assert await paid(sessions, early) == Decimal("0.00")
    assert await paid(sessions, late) == Decimal("350.00")
