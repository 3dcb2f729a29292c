"""Credit both sides can trust (issue 13), in process on the real database: a firm's
credit depends on its own facts only, an imported list is not inbound interest, inbound
credits are capped per account, every decision on a firm's leads is visible to it, and
disputes settle with a final state and a ledger line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from services.credit.sweep import sweep_once
from services.credit.tables import ledger
from shared import credentials
from shared.db import SessionFactory
from shared.events.activities import ActivityLogged
from shared.events.envelope import Envelope
from tests.integration.credit.conftest import (
    OUTBOX,
    Clock,
    Firm,
    apply,
    apply_batch,
    current,
    ledger_of,
    new_firm,
    new_lead,
    rules,
)
from tests.integration.credit.test_api import OPS, Credit, running_credit
from tests.support.infra import Infra

MONDAY = datetime(2026, 11, 2, 15, tzinfo=UTC)


@pytest.fixture
async def credit(infra: Infra) -> AsyncIterator[Credit]:
    async with running_credit(infra, Clock(MONDAY + timedelta(days=1))) as running:
        yield running


def touch(firm_id: str, domain: str, at: datetime) -> Envelope:
    return ActivityLogged(
        activity_id=uuid4(),
        firm_id=firm_id,
        kind="call",
        occurred_at=at,
        logged_at=at + timedelta(days=1),
        contact_email=f"cio@{domain}",
        email_domain=domain,
    ).envelope("/test")


def inbound(firm: Firm, at: datetime, channel: str = "web_form") -> Envelope:
    received = firm.received(at)
    return received.model_copy(
        update={"data": {**received.data, "firm_id": None, "channel": channel}}
    )


async def inbound_lead(
    sessions: SessionFactory, firm: Firm, at: datetime, channel: str = "web_form"
) -> UUID:
    received = inbound(firm, at, channel)
    lead = UUID(received.data["lead_id"])
    await apply(sessions, received, firm.routed(lead, at + timedelta(seconds=1)))
    return lead


async def partner_key(sessions: SessionFactory, firm_id: str) -> dict[str, str]:
    async with sessions() as session, session.begin():
        issued = await credentials.issue(
            session, name="trust test", scopes=("partner",), created_by="tests", firm_id=firm_id
        )
    return {"Authorization": f"Bearer {issued.token}"}


async def test_a_rival_firms_backdated_touch_moves_none_of_the_firms_money(
    sessions: SessionFactory,
) -> None:
    firm = await new_firm(sessions, pays_for="lead", acceptance_business_days=0)
    credited = await new_lead(sessions, firm, MONDAY)
    assert (await current(sessions, credited)).state == "credited"
    await apply(sessions, touch("rival-firm", firm.domain, MONDAY - timedelta(days=20)))
    await sweep_once(sessions, OUTBOX, now=MONDAY + timedelta(days=1))
    after = await current(sessions, credited)
    assert (after.state, after.revision) == ("credited", 1)  # not reversed, not re-decided
    assert await ledger_of(sessions, credited) == [(1, Decimal("150.00"))]  # no clawback
    later = await new_lead(sessions, firm, MONDAY + timedelta(days=1))  # not blocked either
    decision = await current(sessions, later)
    assert decision.state == "credited"
    assert all("rival" not in r["sentence"] for r in decision.event["reasons"])


async def test_an_imported_list_earns_nothing_from_one_touch(sessions: SessionFactory) -> None:
    firm = await new_firm(sessions, pays_for="lead", acceptance_business_days=0)
    await apply(sessions, touch(firm.firm_id, firm.domain, MONDAY - timedelta(days=3)))
    imported = [
        await inbound_lead(sessions, firm, MONDAY + timedelta(minutes=i), "import")
        for i in range(5)
    ]
    for lead in imported:
        assert (await current(sessions, lead)).state == "not_eligible"
        assert (await rules(sessions, lead))[-1] == "inbound.channel"
    website = await inbound_lead(sessions, firm, MONDAY + timedelta(hours=1))
    assert (await current(sessions, website)).state == "credited"


async def test_inbound_credits_are_capped_per_account_in_event_time(
    sessions: SessionFactory,
) -> None:
    firm = await new_firm(
        sessions, pays_for="lead", acceptance_business_days=0, inbound_cap_per_account_per_month=2
    )
    await apply(sessions, touch(firm.firm_id, firm.domain, MONDAY - timedelta(days=3)))
    leads = [await inbound_lead(sessions, firm, MONDAY + timedelta(hours=h)) for h in (2, 3, 4)]
    states = [(await current(sessions, lead)).state for lead in leads]
    assert states == ["credited", "credited", "not_eligible"]
    assert (await rules(sessions, leads[2]))[-1] == "inbound.cap"
    # A lead received earlier but reported late takes its place in event time: the lead
    # that was second is now third, and the review sweep takes its credit back.
    early = await inbound_lead(sessions, firm, MONDAY + timedelta(hours=1))
    assert (await current(sessions, early)).state == "credited"
    await sweep_once(sessions, OUTBOX, now=MONDAY + timedelta(days=1))
    states = [(await current(sessions, lead)).state for lead in leads]
    assert states == ["credited", "reversed", "not_eligible"]


async def test_inbound_places_in_one_batch_count_in_event_time_whatever_their_order(
    sessions: SessionFactory,
) -> None:
    """Three inbound leads in one poll's batch, the latest first: each is decided before
    the earlier ones take their places, so those moves put it up for review, and the
    sweep leaves the cap's two credits with the two earliest."""
    firm = await new_firm(
        sessions, pays_for="lead", acceptance_business_days=0, inbound_cap_per_account_per_month=2
    )
    await apply(sessions, touch(firm.firm_id, firm.domain, MONDAY - timedelta(days=3)))
    received = [inbound(firm, MONDAY + timedelta(hours=h)) for h in (4, 3, 2)]
    leads = [UUID(r.data["lead_id"]) for r in received]
    await apply_batch(
        sessions,
        *received,
        *(firm.routed(lead, MONDAY + timedelta(hours=5)) for lead in leads),
    )
    await sweep_once(sessions, OUTBOX, now=MONDAY + timedelta(days=1))
    states = [(await current(sessions, lead)).state for lead in reversed(leads)]
    assert states[:2] == ["credited", "credited"]
    assert states[2] in ("reversed", "not_eligible")
    assert (await rules(sessions, leads[0]))[-1] == "inbound.cap"


async def test_a_firm_sees_every_decision_on_its_own_leads(
    credit: Credit, sessions: SessionFactory
) -> None:
    holder = await new_firm(sessions, pays_for="lead", acceptance_business_days=0)
    poacher = await new_firm(sessions, pays_for="lead", acceptance_business_days=0)
    # the poacher submits a lead on the holder's account
    received = poacher.received(MONDAY)
    lead = UUID(received.data["lead_id"])
    await apply(sessions, received, holder.routed(lead, MONDAY + timedelta(seconds=1)))
    theirs = await credit.client.get(
        f"/v1/partner/credits/{lead}", headers=await partner_key(sessions, poacher.firm_id)
    )
    assert theirs.status_code == 200, theirs.text
    decision = theirs.json()["decision"]
    assert (decision["state"], decision["firm_id"]) == ("not_eligible", poacher.firm_id)
    assert decision["reasons"][-1]["rule"] == "firm.not_assigned"
    assert holder.firm_id not in str(decision)  # the holder is never named
    holders = await credit.client.get(
        f"/v1/partner/credits/{lead}", headers=await partner_key(sessions, holder.firm_id)
    )
    assert holders.status_code == 404  # not the holder's lead: it earns the holder nothing
    report = await credit.client.get(
        f"/v1/partner/reports/daily/{MONDAY:%Y-%m-%d}",
        headers=await partner_key(sessions, poacher.firm_id),
    )
    assert report.json()["leads_sent"] == 1


async def test_disputes_settle_with_a_final_state_and_a_ledger_line(
    credit: Credit, sessions: SessionFactory
) -> None:
    firm = await new_firm(sessions, pays_for="meeting")
    key = await partner_key(sessions, firm.firm_id)
    flagged, disputed = (
        await new_lead(sessions, firm, MONDAY),
        await new_lead(sessions, firm, MONDAY),
    )
    for lead in (flagged, disputed):
        meeting = uuid4()
        await apply(
            sessions,
            firm.meeting(lead, meeting, "held", MONDAY + timedelta(days=1)),
            firm.meeting(lead, meeting, "flagged_bad", MONDAY + timedelta(days=2)),
        )
        assert (await current(sessions, lead)).state == "disputed"
    # the firm cannot open a second dispute while one is open
    again = await credit.client.post(
        f"/v1/partner/credits/{flagged}/disputes", json={"comment": "it was fine"}, headers=key
    )
    assert again.status_code == 409
    assert "already open" in again.json()["detail"]

    overturned = await credit.client.post(
        f"/v1/leads/{flagged}/credit/resolution",
        json={"verdict": "overturned", "comment": "the meeting was real"},
        headers=OPS,
    )
    assert overturned.status_code == 200, overturned.text
    settled = overturned.json()["decision"]
    assert (settled["state"], settled["amount"]) == ("credited", "350.00")
    upheld = await credit.client.post(
        f"/v1/leads/{disputed}/credit/resolution",
        json={"verdict": "upheld", "comment": "no decision maker"},
        headers=OPS,
    )
    assert upheld.json()["decision"]["state"] == "void"
    # each verdict a ledger line: the credit back, and a settlement of 0.00
    assert [a for _, a in await ledger_of(sessions, flagged)][-1] == Decimal("350.00")
    assert [a for _, a in await ledger_of(sessions, disputed)][-1] == Decimal("0.00")
    async with sessions() as session:
        kinds = await session.scalars(
            ledger.select()
            .with_only_columns(ledger.c.kind)
            .where(ledger.c.lead_id == disputed)
            .order_by(ledger.c.id)
        )
        assert list(kinds) == ["credit", "clawback", "settlement"]
    twice = await credit.client.post(
        f"/v1/leads/{disputed}/credit/resolution",
        json={"verdict": "overturned", "comment": "changed my mind"},
        headers=OPS,
    )
    assert twice.status_code == 409  # settled: nothing open to settle


async def test_a_firm_disputes_a_not_eligible_decision_and_ops_settles_it(
    credit: Credit, sessions: SessionFactory
) -> None:
    firm = await new_firm(
        sessions, pays_for="lead", acceptance_business_days=0, required_fields=["title"]
    )
    key = await partner_key(sessions, firm.firm_id)
    lead = await new_lead(sessions, firm, MONDAY)  # no title: not eligible
    assert (await current(sessions, lead)).state == "not_eligible"
    opened = await credit.client.post(
        f"/v1/partner/credits/{lead}/disputes", json={"comment": "the title is CIO"}, headers=key
    )
    assert opened.status_code == 202, opened.text
    assert opened.json()["decision"]["state"] == "disputed"
    settled = await credit.client.post(
        f"/v1/leads/{lead}/credit/resolution",
        json={"verdict": "overturned", "comment": "agreed"},
        headers=OPS,
    )
    decision = settled.json()["decision"]
    assert (decision["state"], decision["amount"]) == ("credited", "150.00")
    assert "dispute.overturned" in [r["rule"] for r in decision["reasons"]]
    assert await ledger_of(sessions, lead) == [(decision["revision"], Decimal("150.00"))]
    final = await credit.client.post(
        f"/v1/partner/credits/{lead}/disputes", json={"comment": "again"}, headers=key
    )
    assert final.status_code == 409
    assert "final" in final.json()["detail"]


async def test_a_dispute_that_cannot_be_taken_is_a_409_saying_why(
    credit: Credit, sessions: SessionFactory
) -> None:
    firm = await new_firm(sessions, pays_for="lead", acceptance_business_days=5)
    key = await partner_key(sessions, firm.firm_id)
    pending = await new_lead(sessions, firm, MONDAY)
    refused = await credit.client.post(
        f"/v1/partner/credits/{pending}/disputes", json={"comment": "pay us"}, headers=key
    )
    assert refused.status_code == 409
    assert "pending" in refused.json()["detail"]
    nothing = await credit.client.post(
        f"/v1/leads/{pending}/credit/resolution",
        json={"verdict": "upheld", "comment": "x"},
        headers=OPS,
    )
    assert nothing.status_code == 409
    assert (await current(sessions, pending)).revision == 1  # nothing changed


async def test_sales_moving_a_meeting_keeps_the_firms_credit_when_the_prospect_cancels(
    sessions: SessionFactory,
) -> None:
    firm = await new_firm(sessions, pays_for="meeting")
    lead, meeting = await new_lead(sessions, firm, MONDAY), uuid4()
    await apply(
        sessions,
        firm.meeting(lead, meeting, "booked", MONDAY, scheduled_for=MONDAY + timedelta(days=2)),
        firm.meeting(
            lead, meeting, "rescheduled_by_sales", MONDAY + timedelta(days=1), reported_by="sales"
        ),
    )
    assert (await current(sessions, lead)).state == "credited"
    await apply(
        sessions, firm.meeting(lead, meeting, "cancelled_by_prospect", MONDAY + timedelta(days=3))
    )
    after = await current(sessions, lead)
    assert (after.state, after.amount) == ("credited", Decimal("350.00"))
    assert [a for _, a in await ledger_of(sessions, lead)] == [Decimal("350.00")]  # no clawback
