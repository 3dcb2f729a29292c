"""A touch bears only on the leads after it inside the look-back horizon, and a lead
reads only the touches in the horizon before it: on a busy domain both used to be
whole-domain reads (every touch re-decided every lead of the domain), found by the
chaos run with thousands of leads on one account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from services.credit import store
from services.credit.domain.contract import TOUCH_HORIZON_DAYS
from shared.db import SessionFactory
from tests.integration.credit.conftest import apply, new_firm

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)


async def test_a_touch_redecides_only_the_leads_it_can_change(
    sessions: SessionFactory,
) -> None:
    firm = await new_firm(sessions)
    early, late = firm.received(T0), firm.received(T0 + timedelta(days=10))
    await apply(sessions, early, late)
    early_id, late_id = UUID(early.data["lead_id"]), UUID(late.data["lead_id"])

    async with sessions() as session:
        between = await store.leads_touch_bears_on(session, firm.domain, T0 + timedelta(days=5))
        before_both = await store.leads_touch_bears_on(session, firm.domain, T0 - timedelta(1))
        too_old = await store.leads_touch_bears_on(
            session, firm.domain, T0 - timedelta(days=TOUCH_HORIZON_DAYS + 1)
        )
    assert between == [late_id]
    assert sorted(before_both) == sorted([early_id, late_id])
    assert too_old == []


async def test_a_lead_reads_only_the_touches_in_its_horizon(sessions: SessionFactory) -> None:
    firm = await new_firm(sessions)
    received = firm.received(T0)
    await apply(sessions, received)
    times = [
        T0 - timedelta(days=1),  # counts
        T0 + timedelta(days=1),  # after the lead: never bears on it
        T0 - timedelta(days=TOUCH_HORIZON_DAYS + 5),  # beyond any term's look-back
    ]
    async with sessions() as session, session.begin():
        for at in times:
            await store.add_touch(
                session,
                event_id=uuid4(),
                firm_id=firm.firm_id,
                email_domain=firm.domain,
                occurred_at=at,
            )
    async with sessions() as session:
        facts = await store.lead_facts(session, UUID(received.data["lead_id"]))
    assert [t.occurred_at for t in facts.touches] == [T0 - timedelta(days=1)]
