"""Router's store, service and consumers against the real PostgreSQL: decisions stored
as revisions with their event in the outbox, round robin fair across concurrent
"instances", re-routing on rejection and on a hand-over."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

from services.router import service, store, workspace
from services.router.consumer import on_lead_status_changed, on_leads_received
from services.router.schemas import AccountIn
from shared.consumer import Incoming
from shared.db import SessionFactory
from shared.events.leads import LeadReceived
from shared.events.routing import LeadRouted, RoutingAlert
from shared.events.status import LeadStatusChanged
from tests.integration.router.conftest import (
    OUTBOX,
    Workspace,
    envelope_of,
    outbox_events,
    received,
)


async def test_a_lead_in_a_notice_period_goes_to_the_owning_ae_and_is_published(
    sessions: SessionFactory, ws: Workspace
) -> None:
    lead = received(f"mail.{ws.domain('acme')}")
    async with sessions() as session, session.begin():
        assert await service.route_new_lead(session, OUTBOX, lead, ruleset=ws.ruleset)
    async with sessions() as session, session.begin():  # the same lead again: no new revision
        assert not await service.route_new_lead(session, OUTBOX, lead, ruleset=ws.ruleset)
    async with sessions() as session:
        row = await store.latest_decision(session, lead.lead_id)
        assert row is not None
        assert await store.decision_count(session, lead.lead_id) == 1
    assert row.owner_id == ws.id("ana")
    assert row.ruleset_version == ws.ruleset.version
    events = await outbox_events(sessions, lead.lead_id)
    assert [e.type for e in events] == [LeadRouted.event_type]
    routed = LeadRouted.model_validate(events[0].data)
    assert routed.firm_assignment is not None
    assert routed.firm_assignment.in_notice
    assert {"do_not_market", "share_with_firm"} <= set(routed.flags)
    assert "notice period" in routed.explanation
    assert routed.account is not None
    assert routed.account.method == "domain"


async def test_the_consumer_routes_received_leads_and_alerts_when_nobody_owns_one(
    sessions: SessionFactory, ws: Workspace
) -> None:
    lead = received(f"nobody-{ws.tag}.org")
    async with sessions() as session, session.begin():
        await on_leads_received(
            session, [Incoming(envelope_of(lead), "leads.received")], outbox=OUTBOX
        )
    events = await outbox_events(sessions, lead.lead_id)
    assert [e.type for e in events] == [LeadRouted.event_type, RoutingAlert.event_type]
    assert events[0].data["queue"] == "unassigned"
    assert events[1].data["kind"] == "unassigned"


async def test_round_robin_is_fair_across_concurrent_instances(
    sessions: SessionFactory, ws: Workspace
) -> None:
    """30 leads routed by 6 concurrent transactions: the counters live in the database
    under a row lock, so the weights 1:2 (ana:ben; cy is an AM of the same team with
    weight 1) hold exactly for 30 = 7.5 turns of 4."""
    leads = [received(f"new-{i}-{ws.tag}.com", country="US") for i in range(32)]

    async def instance(batch: list[LeadReceived]) -> None:
        for lead in batch:
            async with sessions() as session, session.begin():
                await service.route_new_lead(session, OUTBOX, lead, ruleset=ws.ruleset)

    await asyncio.gather(*(instance(leads[i::4]) for i in range(4)))
    counts: Counter[str] = Counter()
    async with sessions() as session:
        for lead in leads:
            row = await store.latest_decision(session, lead.lead_id)
            assert row is not None
            assert row.team_id == ws.team
            counts[row.owner_id or "none"] += 1
        owners = {o.owner_id: o for o in await workspace.list_owners(session, 1000)}
    assert counts == {ws.id("ana"): 8, ws.id("ben"): 16, ws.id("cy"): 8}
    assert owners[ws.id("ben")].open_leads == 16


async def test_a_rejection_as_wrong_owner_routes_the_lead_again_to_someone_else(
    sessions: SessionFactory, ws: Workspace
) -> None:
    lead = received(ws.domain("acme"))
    async with sessions() as session, session.begin():
        await service.route_new_lead(session, OUTBOX, lead, ruleset=ws.ruleset)
    rejected = LeadStatusChanged(
        lead_id=lead.lead_id,
        stage="rejected",
        reason_code="wrong_owner",
        actor=ws.id("ana"),
        occurred_at=datetime.now(UTC),
    )
    async with sessions() as session, session.begin():
        await on_lead_status_changed(session, envelope_of(rejected), outbox=OUTBOX)
    async with sessions() as session:
        first, latest = (
            await store.decision_count(session, lead.lead_id),
            await store.latest_decision(session, lead.lead_id),
        )
    assert first == 2
    assert latest is not None
    assert latest.revision == 2
    assert latest.owner_id not in (None, ws.id("ana"))
    routed = LeadRouted.model_validate(latest.event)
    assert routed.reason == "owner_rejected"
    assert routed.previous_owner_id == ws.id("ana")
    assert "do_not_market" in routed.flags  # still the firm's account (sticking point 1)


async def test_an_account_changing_hands_reroutes_its_leads_as_new_revisions(
    sessions: SessionFactory, ws: Workspace
) -> None:
    lead = received(ws.domain("acme"))
    async with sessions() as session, session.begin():
        await service.route_new_lead(session, OUTBOX, lead, ruleset=ws.ruleset)
    async with sessions() as session, session.begin():
        before = await workspace.get_account(session, ws.id("acme"))
        assert before is not None
        body = AccountIn.model_validate(
            before.model_dump(exclude={"account_id", "rerouted"}) | {"owner_id": ws.id("ben")}
        )
        after = await workspace.put_account(session, OUTBOX, ws.id("acme"), body)
    assert after.rerouted == 1
    async with sessions() as session:
        latest = await store.latest_decision(session, lead.lead_id)
    assert latest is not None
    assert (latest.revision, latest.owner_id) == (2, ws.id("ben"))
    assert LeadRouted.model_validate(latest.event).reason == "account_changed"


async def test_closing_a_lead_releases_its_owners_capacity_once(
    sessions: SessionFactory, ws: Workspace
) -> None:
    lead = received(ws.domain("acme"))
    async with sessions() as session, session.begin():
        await service.route_new_lead(session, OUTBOX, lead, ruleset=ws.ruleset)
    async with sessions() as session:
        before = await workspace.get_owner(session, ws.id("ana"))
    assert before is not None
    for stage in ("closed_lost", "closed_lost", "disqualified"):  # repeats change nothing
        closed = LeadStatusChanged(
            lead_id=lead.lead_id, stage=stage, actor="crm", occurred_at=datetime.now(UTC)
        )
        async with sessions() as session, session.begin():
            await on_lead_status_changed(session, envelope_of(closed), outbox=OUTBOX)
    async with sessions() as session:
        after = await workspace.get_owner(session, ws.id("ana"))
        assert await store.decision_count(session, lead.lead_id) == 1
    assert after is not None
    assert after.open_leads == before.open_leads - 1
