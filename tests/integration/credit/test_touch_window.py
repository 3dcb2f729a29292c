"""A touch bears only on the inbound leads after it inside the look-back horizon, and an
inbound lead reads only its firm's latest touch inside the contract's look-back,
condensed in the database: on a busy domain both used to be whole-domain reads (every
touch re-decided every lead of the domain inline, every decision read every touch), found
by the chaos run with thousands of leads on one account. Another firm's touches never
bear on a lead."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import store
from services.credit.domain.contract import TOUCH_HORIZON_DAYS, Terms
from services.credit.domain.facts import LeadFacts, Touch
from services.credit.domain.policy import decide
from services.credit.tables import touches
from shared.db import SessionFactory, driver_connection
from shared.events.envelope import Envelope
from tests.integration.credit.conftest import apply, new_firm

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)


async def _touch(sessions: SessionFactory, firm_id: str, domain: str, at: datetime) -> None:
    async with sessions() as session, session.begin():
        await store.add_touches(
            await driver_connection(session), [(uuid4(), Touch(firm_id, at, domain))]
        )


async def _bearing_on(
    session: AsyncSession, facts: LeadFacts, firm_id: str, terms: Terms
) -> tuple[Touch, ...]:
    """What the decision path reads for the lead: its firm's latest own touch inside the
    look-back, for an inbound lead; nothing for a lead the firm submitted."""
    assert facts.received is not None
    if facts.received.submitted_by_firm is not None:
        return ()
    wanted = [(facts.lead_id, facts.received, firm_id, terms.inbound_lookback_days)]
    found = await store.latest_own_touches(await driver_connection(session), wanted)
    return (found[facts.lead_id],) if facts.lead_id in found else ()


def _inbound(envelope: Envelope) -> Envelope:
    return envelope.model_copy(
        update={"data": {**envelope.data, "firm_id": None, "channel": "web_form"}}
    )


async def test_a_touch_queues_only_the_leads_it_can_change(sessions: SessionFactory) -> None:
    firm = await new_firm(sessions)
    early, late = _inbound(firm.received(T0)), _inbound(firm.received(T0 + timedelta(days=10)))
    registered = firm.received(T0 + timedelta(days=5))  # the firm's own: no touch needed
    await apply(sessions, early, late, registered)
    early_id, late_id = UUID(early.data["lead_id"]), UUID(late.data["lead_id"])

    async def queued_by(touched_at: datetime) -> set[UUID]:
        async with sessions() as session, session.begin():
            conn = await driver_connection(session)
            await store.queue_leads_touches_bear_on(conn, [Touch("x", touched_at, firm.domain)])
            queued = set(await store.queued_for_review(conn, 100_000))
            await session.rollback()
        return queued & {early_id, late_id, UUID(registered.data["lead_id"])}

    assert await queued_by(T0 + timedelta(days=5)) == {late_id}
    assert await queued_by(T0 - timedelta(days=1)) == {early_id, late_id}
    assert await queued_by(T0 - timedelta(days=TOUCH_HORIZON_DAYS + 1)) == set()


async def test_a_lead_queued_twice_is_reviewed_once(sessions: SessionFactory) -> None:
    firm = await new_firm(sessions)
    received = _inbound(firm.received(T0))
    await apply(sessions, received)
    lead = UUID(received.data["lead_id"])
    async with sessions() as session, session.begin():
        conn = await driver_connection(session)
        first = await store.queue_leads_touches_bear_on(
            conn, [Touch("x", T0 - timedelta(1), firm.domain)]
        )
        again = await store.queue_leads_touches_bear_on(
            conn, [Touch("x", T0 - timedelta(2), firm.domain)]
        )
    assert (first, again) == (1, 0)
    async with sessions() as session, session.begin():
        conn = await driver_connection(session)
        assert await store.take_from_review_queue(conn, [lead]) == {lead}
        assert await store.take_from_review_queue(conn, [lead]) == set()


async def test_an_inbound_lead_reads_its_firms_latest_touch_in_the_look_back(
    sessions: SessionFactory,
) -> None:
    firm = await new_firm(sessions)
    inbound, registered = _inbound(firm.received(T0)), firm.received(T0)
    await apply(sessions, inbound, registered)
    days = {
        firm.firm_id: [-1, -2, -50, 1],  # -50: beyond the window; +1: after the lead
        "firm-b": [-10, 0],  # another firm's, later than the firm's own: never read
    }
    for firm_id, offsets in days.items():
        for offset in offsets:
            await _touch(sessions, firm_id, firm.domain, T0 + timedelta(days=offset))
    terms = Terms(inbound_lookback_days=30)
    async with sessions() as session:
        found = {}
        for envelope in (inbound, registered):
            facts = await store.lead_facts(session, UUID(envelope.data["lead_id"]))
            assert facts.received is not None
            found[envelope.data["firm_id"]] = await _bearing_on(session, facts, firm.firm_id, terms)
    assert [(t.firm_id, (t.occurred_at - T0).days) for t in found[None]] == [(firm.firm_id, -1)]
    assert found[firm.firm_id] == ()  # a lead the firm submitted needs no touch


async def test_the_condensed_touches_decide_as_all_of_them_would(
    sessions: SessionFactory,
) -> None:
    """Random touches by three firms around a registered and an inbound lead, under
    several windows: the decision from the condensed touches is the decision from all."""
    firm = await new_firm(sessions)
    registered = firm.received(T0)
    inbound = _inbound(firm.received(T0 + timedelta(hours=1)))
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
                select(touches.c.firm_id, touches.c.occurred_at).where(
                    touches.c.email_domain == firm.domain
                )
            )
        )
        contract = await store.current_contract(session, firm.firm_id)
        assert contract is not None
        for lookback in [0, 1, 7, 30, 90, 365]:
            terms = Terms(inbound_lookback_days=lookback)
            under = contract.model_copy(update={"terms": terms})
            for envelope in (registered, inbound):
                facts = await store.lead_facts(session, UUID(envelope.data["lead_id"]))
                assert facts.received is not None
                condensed = await _bearing_on(session, facts, firm.firm_id, terms)
                assert len(condensed) <= 1
                by_all = decide(replace(facts, touches=everything), under, as_of=T0)
                by_condensed = decide(replace(facts, touches=condensed), under, as_of=T0)
                assert by_condensed == by_all, (lookback, envelope.data["firm_id"])
