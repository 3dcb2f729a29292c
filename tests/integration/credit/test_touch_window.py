"""A touch bears only on the leads after it inside the look-back horizon, and a lead
reads only the touches its contract's windows look at, condensed in the database: on a
busy domain both used to be whole-domain reads (every touch re-decided every lead of the
domain inline, every decision read every touch), found by the chaos run with thousands of
leads on one account."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy import select

from services.credit import store
from services.credit.domain.contract import TOUCH_HORIZON_DAYS, Terms
from services.credit.domain.facts import Touch
from services.credit.domain.policy import decide
from shared.db import SessionFactory
from tests.integration.credit.conftest import apply, new_firm

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)


async def _touch(sessions: SessionFactory, firm_id: str, domain: str, at: datetime) -> None:
    async with sessions() as session, session.begin():
        await store.add_touch(
            session, event_id=uuid4(), firm_id=firm_id, email_domain=domain, occurred_at=at
        )


async def test_a_touch_queues_only_the_leads_it_can_change(sessions: SessionFactory) -> None:
    firm = await new_firm(sessions)
    early, late = firm.received(T0), firm.received(T0 + timedelta(days=10))
    await apply(sessions, early, late)
    early_id, late_id = UUID(early.data["lead_id"]), UUID(late.data["lead_id"])

    async def queued_by(touched_at: datetime) -> set[UUID]:
        async with sessions() as session, session.begin():
            await store.queue_leads_touch_bears_on(session, firm.domain, touched_at)
            queued = set(await store.queued_for_review(session, 100_000))
            await session.rollback()
        return queued & {early_id, late_id}

    assert await queued_by(T0 + timedelta(days=5)) == {late_id}
    assert await queued_by(T0 - timedelta(days=1)) == {early_id, late_id}
    assert await queued_by(T0 - timedelta(days=TOUCH_HORIZON_DAYS + 1)) == set()


async def test_a_lead_queued_twice_is_reviewed_once(sessions: SessionFactory) -> None:
    firm = await new_firm(sessions)
    received = firm.received(T0)
    await apply(sessions, received)
    lead = UUID(received.data["lead_id"])
    async with sessions() as session, session.begin():
        first = await store.queue_leads_touch_bears_on(session, firm.domain, T0 - timedelta(1))
        again = await store.queue_leads_touch_bears_on(session, firm.domain, T0 - timedelta(2))
    assert (first, again) == (1, 0)
    async with sessions() as session, session.begin():
        assert await store.take_from_review_queue(session, lead)
        assert not await store.take_from_review_queue(session, lead)


async def test_a_lead_reads_per_firm_the_first_and_last_touch_its_windows_see(
    sessions: SessionFactory,
) -> None:
    firm = await new_firm(sessions)
    received = firm.received(T0)
    await apply(sessions, received)
    days = {
        "firm-a": [-1, -2, -50, 1],  # -50: beyond both windows; +1: after the lead
        "firm-b": [-10, -40, -400],
    }
    for firm_id, offsets in days.items():
        for offset in offsets:
            await _touch(sessions, firm_id, firm.domain, T0 + timedelta(days=offset))
    terms = Terms(protection_days=45, inbound_lookback_days=30)
    async with sessions() as session:
        facts = await store.lead_facts(session, UUID(received.data["lead_id"]))
        assert facts.received is not None
        found = await store.touches_bearing_on(session, facts.received, terms)
    assert [(t.firm_id, (t.occurred_at - T0).days) for t in found] == [
        ("firm-b", -40),  # firm-b's first inside the protection window
        ("firm-b", -10),  # its last inside the look-back
        ("firm-a", -2),
        ("firm-a", -1),
    ]


async def test_the_condensed_touches_decide_as_all_of_them_would(
    sessions: SessionFactory,
) -> None:
    """Random touches by three firms around a registered and an inbound lead, under
    several windows: the decision from the condensed touches is the decision from all."""
    firm = await new_firm(sessions)
    registered = firm.received(T0)
    inbound = firm.received(T0 + timedelta(hours=1))
    inbound = inbound.model_copy(update={"data": {**inbound.data, "firm_id": None}})
    routed = [
        firm.routed(UUID(e.data["lead_id"]), T0 + timedelta(hours=2)) for e in (registered, inbound)
    ]
    await apply(sessions, registered, inbound, *routed)
    rng = random.Random(7)
    for _ in range(40):
        who = rng.choice([firm.firm_id, "in-house", "other-firm"])
        await _touch(sessions, who, firm.domain, T0 - timedelta(hours=rng.randint(-24, 24 * 120)))
    async with sessions() as session:
        everything = tuple(
            Touch(firm_id, at, firm.domain)
            for firm_id, at in await session.execute(
                select(store.touches.c.firm_id, store.touches.c.occurred_at).where(
                    store.touches.c.email_domain == firm.domain
                )
            )
        )
        contract = await store.current_contract(session, firm.firm_id)
        assert contract is not None
        for protection, lookback in [(0, 0), (3, 90), (30, 30), (60, 7), (365, 365)]:
            terms = Terms(protection_days=protection, inbound_lookback_days=lookback)
            under = contract.model_copy(update={"terms": terms})
            for envelope in (registered, inbound):
                facts = await store.lead_facts(session, UUID(envelope.data["lead_id"]))
                assert facts.received is not None
                condensed = await store.touches_bearing_on(session, facts.received, terms)
                assert len(condensed) <= 6
                by_all = decide(replace(facts, touches=everything), under, as_of=T0)
                by_condensed = decide(replace(facts, touches=condensed), under, as_of=T0)
                assert by_condensed == by_all, (protection, lookback, envelope.data["firm_id"])
