"""The dashboard's filters and the lead list on the real database: an owner and a firm
narrow every panel's query the same way, and the lead list finds the leads behind each
chart's number (a minute's channel, a routing rule, an owner's SLA breaches, a firm's
credit state)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from services.ops import store
from services.ops.aggregates import funnel_between
from services.ops.domain.filters import LeadQuery, Range, Scope, lead_query
from services.ops.recording import record_all
from shared.db import SessionFactory
from shared.events.credit import CreditDecided, CreditState, Reason
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from shared.events.lifecycle import LeadSlaBreached
from shared.events.routing import AccountMatch, FirmAssignment, LeadRouted, OwnerRef


@dataclass(frozen=True)
class World:
    """Three leads on a day of their own: ``a`` the firm's, routed to ``lee``; ``b``
    without a firm, routed to ``dana``; ``c`` routed to ``lee``, breached, and routed
    again to ``dana``."""

    day: datetime
    firm: str
    lee: str
    dana: str
    a: UUID
    b: UUID
    c: UUID

    @property
    def range(self) -> tuple[datetime, datetime]:
        return self.day, self.day + timedelta(days=1)


def received(lead: UUID, at: datetime, *, campaign: str | None, firm: str | None) -> Envelope:
    return LeadReceived(
        lead_id=lead,
        received_at=at,
        channel="partner" if firm else "api",
        source=firm or "website",
        campaign=campaign,
        email=f"pat.{str(lead)[:6]}@example.com",
        email_domain="example.com",
        company="Example",
        firm_id=firm,
    ).envelope("/intake")


def routed(
    lead: UUID, revision: int, at: datetime, owner: str, *, rule: str, firm: str | None
) -> Envelope:
    return LeadRouted(
        lead_id=lead,
        revision=revision,
        lead_received_at=at,
        decided_at=at + timedelta(seconds=1),
        channel="api",
        account=AccountMatch(account_id=f"acc-{owner}", name="Acme", method="domain", score=1.0),
        owner=OwnerRef(owner_id=owner, name=f"Name of {owner}", role="AE"),
        queue=None,
        flags=[],
        firm_assignment=FirmAssignment(firm_id=firm, starts_on=at.date()) if firm else None,
        ruleset_version="test",
        trace=[],
        explanation="Routed.",
        rule=rule,
    ).envelope("/router")


def breached(lead: UUID, at: datetime, owner: str) -> Envelope:
    return LeadSlaBreached(
        lead_id=lead,
        account_id=None,
        owner_id=owner,
        revision=1,
        routed_at=at,
        due_at=at + timedelta(minutes=3),
        sla_name="demo",
        sla_minutes=3,
        occurred_at=at + timedelta(minutes=3),
        manager_id=None,
    ).envelope("/router")


def decided(
    lead: UUID, revision: int, at: datetime, state: CreditState, firm: str | None
) -> Envelope:
    return CreditDecided(
        lead_id=lead,
        revision=revision,
        routing_revision=1,
        firm_id=firm,
        state=state,
        amount=Decimal("150.00" if state == "credited" else "0"),
        currency="USD",
        policy_version="p1",
        reasons=[Reason(rule="x", sentence="Because.")],
        decided_at=at,
    ).envelope("/credit")


@pytest.fixture
async def world(sessions: SessionFactory) -> World:
    tag = secrets.token_hex(3)
    # a day of its own, far from the other tests' (and different per run of this fixture)
    day = datetime(2032, 1, 1, tzinfo=UTC) + timedelta(days=int(tag, 16) % 3000)
    w = World(day, f"firm-{tag}", f"own-lee-{tag}", f"own-dana-{tag}", uuid4(), uuid4(), uuid4())
    at = day + timedelta(hours=10)
    events = [
        (received(w.a, at, campaign=f"c-{tag}", firm=w.firm), "leads.received"),
        (routed(w.a, 1, at, w.lee, rule="firm_assignment", firm=w.firm), "leads.routed"),
        (decided(w.a, 1, at, "pending", w.firm), "credits.decided"),
        (decided(w.a, 2, at + timedelta(hours=1), "credited", w.firm), "credits.decided"),
        (received(w.b, at + timedelta(minutes=5), campaign=None, firm=None), "leads.received"),
        (routed(w.b, 1, at, w.dana, rule="territory", firm=None), "leads.routed"),
        (decided(w.b, 1, at, "not_eligible", None), "credits.decided"),
        (received(w.c, at + timedelta(minutes=6), campaign=None, firm=None), "leads.received"),
        (routed(w.c, 1, at, w.lee, rule="territory", firm=None), "leads.routed"),
        (breached(w.c, at, w.lee), "leads.status"),
        (
            routed(w.c, 2, at + timedelta(minutes=4), w.dana, rule="territory", firm=None),
            "leads.routed",
        ),
    ]
    for envelope, topic in events:
        async with sessions() as session, session.begin():
            assert await record_all(session, [(envelope, topic)]) == 1
    return w


async def test_owner_and_firm_narrow_every_panel_alike(
    sessions: SessionFactory, world: World
) -> None:
    start, end = world.range
    lee, dana, firm = (
        Scope(owner_id=world.lee),
        Scope(owner_id=world.dana),
        Scope(firm_id=world.firm),
    )

    async def received_count(scope: Scope) -> int:
        async with sessions() as session:
            rows = await store.received_per_bucket(session, start, end, "hour", scope)
        return sum(n for _, _, n in rows)

    async with sessions() as session:
        _, owners_of_lee = await store.routing_outcomes(session, start, end, lee)
        rules_of_dana, _ = await store.routing_outcomes(session, start, end, dana)
        sla_of_lee = await store.counts_by_type_and_owner(
            session, ["leadflow.lead.sla_breached.v1"], start, end, lee
        )
        sla_of_dana = await store.counts_by_type_and_owner(
            session, ["leadflow.lead.sla_breached.v1"], start, end, dana
        )
        credit_of_firm = await store.latest_credit_per_lead(session, start, end, firm)
        credit_of_dana = await store.latest_credit_per_lead(session, start, end, dana)

    # a lead counts for every owner it was routed to (c: lee, then dana), a firm's for it
    assert (await received_count(lee), await received_count(dana)) == (2, 2)
    assert await received_count(firm) == 1
    assert await received_count(Scope(owner_id=world.lee, firm_id=world.firm)) == 1
    # routing decisions and SLA events count by the owner they name
    assert owners_of_lee == [(world.lee, f"Name of {world.lee}", 2)]
    assert sorted(rules_of_dana) == [("territory", 2)]
    assert sla_of_lee == [("leadflow.lead.sla_breached.v1", world.lee, 1)]
    assert sla_of_dana == []
    # each lead's latest decision; a lead without a firm has no bar
    assert credit_of_firm == [(world.firm, "credited", "150.00")]
    assert credit_of_dana == []
    funnel = await funnel_between(sessions, start, end, lee)
    assert funnel.total.received == 2


async def list_of(sessions: SessionFactory, query: LeadQuery, limit: int = 20) -> list[UUID]:
    async with sessions() as session:
        hits, total = await store.list_leads(session, query, limit)
    assert total >= len(hits)
    return [h.lead_id for h in hits]


async def test_the_lead_list_finds_the_leads_behind_each_chart(
    sessions: SessionFactory, world: World
) -> None:
    start, end = world.range
    day = Range(start, end)
    when = {"from_": start.isoformat(), "to": end.isoformat()}
    none = {"owner": None, "firm": None, "q": None, "channel": None, "campaign": None}
    none |= {"rule": None, "state": None}

    def ask(**given: str) -> LeadQuery:
        return lead_query(**{"event": "received", **when, **none, **given})  # type: ignore[arg-type]

    newest_first = [world.c, world.b, world.a]
    assert await list_of(sessions, LeadQuery(range=day)) == newest_first
    # a flow bar: one channel's leads received in that bucket
    minute = start + timedelta(hours=10, minutes=5)
    bar = LeadQuery(range=Range(minute, minute + timedelta(minutes=1)), channel="api")
    assert await list_of(sessions, bar) == [world.b]
    # a funnel row without a campaign
    assert await list_of(sessions, ask(campaign="(none)")) == [world.c, world.b]
    # a doughnut segment: the leads a rule routed; an owner's bar
    assert await list_of(sessions, ask(event="routed", rule="firm_assignment")) == [world.a]
    assert await list_of(sessions, ask(event="routed", owner=world.dana)) == [world.c, world.b]
    # an owner's SLA breaches: dana now owns c, but the breach was lee's
    assert await list_of(sessions, ask(event="sla_breached", owner=world.lee)) == [world.c]
    assert await list_of(sessions, ask(event="sla_breached", owner=world.dana)) == []
    # a firm's credit by state: the latest decision in the range only
    credited = ask(event="credit", state="credited", firm=world.firm)
    assert await list_of(sessions, credited) == [world.a]
    assert await list_of(sessions, ask(event="credit", state="pending", firm=world.firm)) == []
    # the search text and the filters together; the total beyond the page
    assert await list_of(sessions, ask(q=str(world.a)[:8], firm=world.firm)) == [world.a]
    async with sessions() as session:
        hits, total = await store.list_leads(session, LeadQuery(range=day), 2)
    assert ([h.lead_id for h in hits], total) == ([world.c, world.b], 3)
