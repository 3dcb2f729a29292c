"""Credit's store on the real database: contracts kept as versions, facts kept as they
come (in any order) and folded per lead, decisions stored as revisions naming the
contract version, and a lead decided only once its registration and routing are known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from services.credit import store
from services.credit.domain.contract import Terms
from services.credit.sweep import sweep_once
from shared.db import SessionFactory, driver_connection
from shared.events.activities import ActivityLogged
from tests.integration.credit.conftest import (
    OUTBOX,
    apply,
    current,
    new_firm,
    new_lead,
    published,
    rules,
)

MONDAY = datetime(2026, 11, 2, 9, tzinfo=UTC)


async def test_contracts_are_versions_and_decisions_name_the_one_they_applied(
    sessions: SessionFactory,
) -> None:
    firm = await new_firm(sessions, pays_for="lead", acceptance_business_days=0)
    first = await new_lead(sessions, firm, MONDAY)
    async with sessions() as session, session.begin():
        v2 = await store.add_contract(
            session, firm.firm_id, Terms(pays_for="lead", price_per_lead=Decimal("90"))
        )
    async with sessions() as session:
        assert v2.version == 2
        assert await store.current_contract(session, firm.firm_id) == v2
    second = await new_lead(sessions, firm, MONDAY + timedelta(days=1))
    assert (await current(sessions, first)).contract_version == f"{firm.firm_id}/v1"
    assert (await current(sessions, second)).contract_version == f"{firm.firm_id}/v2"


async def test_a_meeting_outcome_before_the_routing_decision_waits_for_it(
    sessions: SessionFactory,
) -> None:
    firm = await new_firm(sessions, pays_for="meeting")
    received = firm.received(MONDAY)
    lead = UUID(received.data["lead_id"])
    await apply(sessions, firm.meeting(lead, uuid4(), "held", MONDAY + timedelta(days=1)))
    await apply(sessions, received)
    async with sessions() as session:
        assert await store.latest_decision(session, lead) is None  # nothing half-decided
        facts = await store.lead_facts(session, lead)
    assert [m.status for m in facts.meetings] == ["held"]
    await apply(sessions, firm.routed(lead, MONDAY + timedelta(seconds=1)))
    decided = await current(sessions, lead)
    assert (decided.revision, decided.state, decided.amount) == (1, "credited", Decimal("350"))
    assert [e["revision"] for e in await published(sessions, lead)] == [1]


async def test_a_touch_logged_late_but_dated_before_an_inbound_lead_earns_it_credit(
    sessions: SessionFactory,
) -> None:
    firm = await new_firm(sessions, pays_for="lead", acceptance_business_days=0)
    received = firm.received(MONDAY)
    lead = UUID(received.data["lead_id"])
    inbound = received.model_copy(
        update={"data": {**received.data, "firm_id": None, "channel": "web_form"}}
    )
    await apply(sessions, inbound, firm.routed(lead, MONDAY + timedelta(seconds=1)))
    assert (await current(sessions, lead)).state == "not_eligible"
    touch = ActivityLogged(
        activity_id=uuid4(),
        firm_id=firm.firm_id,
        kind="call",
        occurred_at=MONDAY - timedelta(days=3),
        logged_at=MONDAY + timedelta(days=1),
        contact_email=f"cio@{firm.domain}",
        email_domain=firm.domain,
    ).envelope("/test")
    await apply(sessions, touch)
    assert (await current(sessions, lead)).state == "not_eligible"  # queued, not yet reviewed
    async with sessions() as session:
        assert lead in await store.queued_for_review(await driver_connection(session), 10_000)
    await sweep_once(sessions, OUTBOX, now=MONDAY)
    assert (await current(sessions, lead)).state == "credited"
    assert "inbound.touch" in await rules(sessions, lead)
    async with sessions() as session:
        assert lead not in await store.queued_for_review(await driver_connection(session), 10_000)


async def test_the_as_of_time_never_goes_back(sessions: SessionFactory) -> None:
    """A fact dated before the lead's last decision (here a later stage reported late) is
    folded in as of that decision's time: a deadline the sweep saw pass is not undone."""
    firm = await new_firm(
        sessions, pays_for="lead", acceptance_business_days=2, return_window_days=0
    )
    lead = await new_lead(sessions, firm, MONDAY)
    due = datetime(2026, 11, 5, tzinfo=UTC)  # end of Wednesday
    await sweep_once(sessions, OUTBOX, now=due)
    assert (await current(sessions, lead)).state == "credited"
    await apply(sessions, firm.status(lead, "qualified", MONDAY + timedelta(days=1)))
    after = await current(sessions, lead)
    assert (after.state, after.decided_at) == ("credited", due)
    assert "acceptance.by_silence" in await rules(sessions, lead)
