"""The event log on the real database: each envelope kept once, in commit order; a
lead's firm and account reach its events that carry none; the stream's filters, the
timeline, the search and the funnel read it back."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from services.ops import store, tables
from services.ops.aggregates import funnel_between
from services.ops.domain.stream_filter import stream_filter
from services.ops.recording import record_all
from shared.db import SessionFactory
from shared.events.credit import CreditDecided, Reason
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from shared.events.routing import AccountMatch, FirmAssignment, LeadRouted, OwnerRef, TraceStep
from shared.events.status import LeadStatusChanged

T0 = datetime(2026, 11, 20, 15, tzinfo=UTC)


def received(
    lead_id: UUID, domain: str, *, campaign: str = "spring", at: datetime = T0
) -> Envelope:
    return LeadReceived(
        lead_id=lead_id,
        received_at=at,
        channel="api",
        source="website",
        campaign=campaign,
        email=f"pat@{domain}",
        email_domain=domain,
        company=f"Company of {domain}",
    ).envelope("/intake")


def routed(lead_id: UUID, firm: str, account: str) -> Envelope:
    return LeadRouted(
        lead_id=lead_id,
        revision=1,
        lead_received_at=T0,
        decided_at=T0 + timedelta(seconds=2),
        channel="api",
        account=AccountMatch(account_id=account, name="Acme", method="domain", score=1.0),
        owner=OwnerRef(owner_id="own-dana", name="Dana Ortiz", role="AE"),
        queue=None,
        flags=["do_not_market"],
        firm_assignment=FirmAssignment(firm_id=firm, starts_on=T0.date()),
        ruleset_version="test",
        trace=[TraceStep(rule="firm_assignment", matched=True, reason="assigned to the firm")],
        explanation="Routed to Dana Ortiz (AE).",
        rule="firm_assignment",
    ).envelope("/router")


def accepted(lead_id: UUID, at: datetime) -> Envelope:
    return LeadStatusChanged(
        lead_id=lead_id, stage="accepted", actor="own-dana", occurred_at=at
    ).envelope("/intake")


def credited(lead_id: UUID, firm: str, amount: str) -> Envelope:
    return CreditDecided(
        lead_id=lead_id,
        revision=1,
        routing_revision=1,
        firm_id=firm,
        state="credited",
        amount=Decimal(amount),
        currency="USD",
        policy_version="p1",
        reasons=[Reason(rule="lead.credited", sentence="The lead earns it.")],
        decided_at=T0 + timedelta(seconds=5),
    ).envelope("/credit")


async def keep(sessions: SessionFactory, envelope: Envelope, topic: str) -> bool:
    async with sessions() as session, session.begin():
        return await record_all(session, [(envelope, topic)]) == 1


async def test_an_envelope_is_kept_once_and_positions_grow(sessions: SessionFactory) -> None:
    lead = uuid4()
    first = received(lead, f"{secrets.token_hex(4)}.com")
    assert await keep(sessions, first, "leads.received")
    assert not await keep(sessions, first, "leads.received")
    status = accepted(lead, T0 + timedelta(minutes=1))
    assert await keep(sessions, status, "leads.status")
    async with sessions() as session:
        events = await store.lead_events(session, lead)
    assert [e.type for e in events] == [first.type, status.type]
    assert events[0].seq < events[1].seq
    assert events[0].envelope_json()["data"]["email"] == first.data["email"]


async def test_unknown_types_are_kept_with_what_can_be_indexed(sessions: SessionFactory) -> None:
    lead = uuid4()
    odd = Envelope(
        source="/router",
        type="leadflow.lead.sla_breached.v1",
        partitionkey=str(lead),
        data={"lead_id": str(lead), "owner_id": "own-lee", "account_id": "acc-x", "x": [1]},
    )
    assert await keep(sessions, odd, "leads.status")
    async with sessions() as session:
        (event,) = await store.lead_events(session, lead)
        owner = await session.scalar(
            tables.event_log.select()
            .with_only_columns(tables.event_log.c.owner_id)
            .where(tables.event_log.c.seq == event.seq)
        )
    assert (event.type, event.account_id, owner) == (odd.type, "acc-x", "own-lee")


async def test_a_lead_s_firm_and_account_reach_its_other_events(sessions: SessionFactory) -> None:
    firm, account, lead = f"firm-{secrets.token_hex(3)}", f"acc-{secrets.token_hex(3)}", uuid4()
    # An inbound lead, accepted before its routing decision arrives (another topic): all
    # take the account the routing names and the firm its credit decision is about.
    await keep(sessions, received(lead, f"{firm}.com"), "leads.received")
    await keep(sessions, accepted(lead, T0 + timedelta(minutes=1)), "leads.status")
    await keep(sessions, routed(lead, firm, account), "leads.routed")
    await keep(sessions, accepted(lead, T0 + timedelta(minutes=2)), "leads.status")
    await keep(sessions, credited(lead, firm, "150.00"), "credits.decided")
    async with sessions() as session:
        events = await store.lead_events(session, lead)
        for_firm = await store.events_after(
            session, 0, stream_filter(types=[], firm=None, account=None, viewer_firm=firm)
        )
        for_account = await store.events_after(
            session,
            0,
            stream_filter(types=["leadflow.lead"], firm=None, account=account, viewer_firm=None),
        )
    assert [(e.firm_id, e.account_id) for e in events] == [(firm, account)] * 5
    # Its whole story, but for the company's routing decision (a partner never sees those).
    assert [e.seq for e in for_firm] == sorted(e.seq for e in events if e.topic != "leads.routed")
    assert [e.type.split(".")[2] for e in for_account] == [
        "received",
        "status_changed",
        "routed",
        "status_changed",
    ]


async def test_another_firms_lead_on_a_firms_account_is_not_that_firms_to_see(
    sessions: SessionFactory,
) -> None:
    holder, poacher, lead = f"firm-{secrets.token_hex(3)}", f"firm-{secrets.token_hex(3)}", uuid4()
    submitted = received(lead, f"{holder}.com")
    submitted = submitted.model_copy(update={"data": {**submitted.data, "firm_id": poacher}})
    await keep(sessions, submitted, "leads.received")
    await keep(sessions, routed(lead, holder, f"acc-{holder}"), "leads.routed")
    await keep(sessions, accepted(lead, T0 + timedelta(minutes=2)), "leads.status")
    await keep(sessions, credited(lead, poacher, "0.00"), "credits.decided")
    async with sessions() as session:
        seen_by = {
            firm: await store.events_after(
                session, 0, stream_filter(types=[], firm=None, account=None, viewer_firm=firm)
            )
            for firm in (holder, poacher)
        }
    assert [e.type.split(".")[2] for e in seen_by[poacher]] == [
        "received",
        "status_changed",
        "decided",
    ]
    assert seen_by[holder] == []


async def test_stream_filters_by_exact_type_and_prefix(sessions: SessionFactory) -> None:
    firm, account, lead = f"firm-{secrets.token_hex(3)}", f"acc-{secrets.token_hex(3)}", uuid4()
    async with sessions() as session:
        start = await store.last_seq(session)
    await keep(sessions, routed(lead, firm, account), "leads.routed")
    await keep(sessions, credited(lead, firm, "150.00"), "credits.decided")

    async def types(*wanted: str) -> list[str]:
        where = stream_filter(types=list(wanted), firm=firm, account=None, viewer_firm=None)
        async with sessions() as session:
            return [e.type for e in await store.events_after(session, start, where)]

    assert await types() == ["leadflow.lead.routed.v1", "leadflow.credit.decided.v1"]
    assert await types("leadflow.credit.decided.v1") == ["leadflow.credit.decided.v1"]
    assert await types("leadflow.credit") == ["leadflow.credit.decided.v1"]
    assert await types("leadflow.lead.*,leadflow.credit.decided.v1") == [
        "leadflow.lead.routed.v1",
        "leadflow.credit.decided.v1",
    ]
    assert await types("leadflow.cred") == []  # a prefix ends at a dot unless it says *


async def test_search_and_funnel(sessions: SessionFactory) -> None:
    tag = secrets.token_hex(4)
    firm = f"firm-{tag}"
    won, lost = uuid4(), uuid4()
    at = datetime(2031, 1, 5, 12, tzinfo=UTC)  # a day of its own
    await keep(sessions, received(won, f"{tag}.com", campaign=f"c-{tag}", at=at), "leads.received")
    await keep(sessions, received(lost, f"{tag}.org", campaign=f"c-{tag}", at=at), "leads.received")
    await keep(sessions, accepted(won, at + timedelta(hours=1)), "leads.status")
    await keep(sessions, credited(won, firm, "150.00"), "credits.decided")
    async with sessions() as session:
        by_domain = await store.search_leads(session, f"{tag}.org", 10)
        by_company = await store.search_leads(session, f"company of {tag}", 10)
        by_id = await store.search_leads(session, str(won)[:8], 10)
    assert [h.lead_id for h in by_domain] == [lost]
    assert {h.lead_id for h in by_company} == {won, lost}
    assert won in {h.lead_id for h in by_id}
    result = await funnel_between(sessions, at - timedelta(hours=1), at + timedelta(hours=1))
    (row,) = result.rows
    assert (row.channel, row.campaign, row.received, row.accepted, row.credited) == (
        "api",
        f"c-{tag}",
        2,
        1,
        1,
    )
    assert row.credited_amount == Decimal("150.00")


async def test_a_batch_is_kept_in_order_once_and_its_events_tell_each_other(
    sessions: SessionFactory,
) -> None:
    """A poll's events in one statement each: positions in the batch's order, a repeat of
    an id (inside the batch or from before) kept once, and an event earlier in the batch
    gives its lead's firm and account to the later ones as a stored one would."""
    firm, account, lead = f"firm-{secrets.token_hex(3)}", f"acc-{secrets.token_hex(3)}", uuid4()
    first = received(lead, f"{firm}.com")
    batch = [
        (first, "leads.received"),
        (accepted(lead, T0 + timedelta(minutes=1)), "leads.status"),
        (routed(lead, firm, account), "leads.routed"),
        (first, "leads.received"),  # redelivered inside the batch
        (accepted(lead, T0 + timedelta(minutes=2)), "leads.status"),
        (credited(lead, firm, "150.00"), "credits.decided"),
    ]
    async with sessions() as session, session.begin():
        assert await record_all(session, batch) == 5
    async with sessions() as session, session.begin():
        assert await record_all(session, batch[:2]) == 0  # all seen before
    async with sessions() as session:
        events = sorted(await store.lead_events(session, lead), key=lambda e: e.seq)
    assert [e.type.split(".")[2] for e in events] == [
        "received",
        "status_changed",
        "routed",
        "status_changed",
        "decided",
    ]
    assert [(e.firm_id, e.account_id) for e in events] == [(firm, account)] * 5
