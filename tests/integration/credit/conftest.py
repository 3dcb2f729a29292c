"""Credit against the real PostgreSQL: a firm of its own per test (unique ids), facts fed
through credit's own event handlers, a clock that the test sets."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import func, select

from services.credit import store
from services.credit.consumer import on_facts
from services.credit.domain.contract import Terms
from services.credit.tables import ledger
from shared.consumer import Incoming
from shared.db import SessionFactory
from shared.events.activities import MeetingUpdated
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from shared.events.routing import AccountMatch, FirmAssignment, LeadRouted
from shared.events.status import LeadStatusChanged
from shared.outbox import Outbox
from shared.plumbing_tables import outbox_table

OUTBOX = Outbox(store.SCHEMA, source="/credit")


@dataclass
class Clock:
    """The sweep's clock, moved by the test."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Firm:
    firm_id: str
    domain: str
    leads: list[UUID] = field(default_factory=list)

    def received(self, at: datetime, *, lead_id: UUID | None = None) -> Envelope:
        lead = lead_id or uuid4()
        self.leads.append(lead)
        return LeadReceived(
            lead_id=lead,
            received_at=at,
            channel="partner",
            source="test",
            firm_id=self.firm_id,
            email=f"cio{len(self.leads)}@{self.domain}",
            email_domain=self.domain,
            company="Prospect Inc",
        ).envelope("/test")

    def routed(self, lead_id: UUID, at: datetime) -> Envelope:
        return LeadRouted(
            lead_id=lead_id,
            revision=1,
            lead_received_at=at,
            decided_at=at,
            channel="partner",
            account=AccountMatch(
                account_id=f"acc-{self.firm_id}", name="Prospect", method="domain", score=1
            ),
            owner=None,
            queue=None,
            flags=[],
            firm_assignment=FirmAssignment(firm_id=self.firm_id, starts_on=date(2026, 1, 1)),
            ruleset_version="test",
            trace=[],
            explanation="test",
            rule="firm_assignment",
        ).envelope("/test")

    def status(
        self, lead_id: UUID, stage: str, at: datetime, reason: str | None = None
    ) -> Envelope:
        return LeadStatusChanged(
            lead_id=lead_id,
            stage=stage,
            reason_code=reason,
            actor="sales",
            occurred_at=at,
        ).envelope("/test")

    def meeting(
        self, lead_id: UUID, meeting_id: UUID, status: str, at: datetime, **more: Any
    ) -> Envelope:
        return MeetingUpdated(
            meeting_id=meeting_id,
            firm_id=self.firm_id,
            lead_id=lead_id,
            contact_email=f"cio@{self.domain}",
            email_domain=self.domain,
            status=status,
            occurred_at=at,
            reported_at=more.pop("reported_at", at),
            reported_by=more.pop("reported_by", "firm"),
            **more,
        ).envelope("/test")


async def apply(sessions: SessionFactory, *envelopes: Envelope) -> None:
    """Each fact in its own transaction (a poll of one), as the consumer applies them."""
    for envelope in envelopes:
        await apply_batch(sessions, envelope)


async def apply_batch(sessions: SessionFactory, *envelopes: Envelope) -> None:
    """The facts in one transaction, as the consumer applies a poll's batch."""
    async with sessions() as session, session.begin():
        await on_facts(session, [Incoming(e, "test") for e in envelopes], OUTBOX)


async def new_firm(sessions: SessionFactory, **terms: Any) -> Firm:
    firm = Firm(f"firm-{secrets.token_hex(4)}", f"{secrets.token_hex(4)}-prospect.com")
    async with sessions() as session, session.begin():
        await store.add_contract(session, firm.firm_id, Terms(**terms))
    return firm


async def new_lead(sessions: SessionFactory, firm: Firm, at: datetime) -> UUID:
    received = firm.received(at)
    lead_id = UUID(received.data["lead_id"])
    await apply(sessions, received, firm.routed(lead_id, at + timedelta(seconds=1)))
    return lead_id


async def current(sessions: SessionFactory, lead_id: UUID) -> store.StoredDecision:
    async with sessions() as session:
        row = await store.latest_decision(session, lead_id)
    assert row is not None
    return row


async def rules(sessions: SessionFactory, lead_id: UUID) -> list[str]:
    return [r["rule"] for r in (await current(sessions, lead_id)).event["reasons"]]


async def ledger_of(sessions: SessionFactory, lead_id: UUID) -> list[tuple[int, Decimal]]:
    async with sessions() as session:
        rows = await session.execute(
            select(ledger.c.decision_revision, ledger.c.amount)
            .where(ledger.c.lead_id == lead_id)
            .order_by(ledger.c.id)
        )
        return [(r[0], r[1]) for r in rows]


async def published(sessions: SessionFactory, lead_id: UUID) -> list[dict[str, Any]]:
    """The credit.decided events in credit's outbox for the lead, in order."""
    table = outbox_table(store.SCHEMA)
    async with sessions() as session:
        rows = await session.execute(
            select(table.c.payload)
            .where(func.jsonb_extract_path_text(table.c.payload, "data", "lead_id") == str(lead_id))
            .order_by(table.c.id)
        )
        return [r[0]["data"] for r in rows]


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 25, 15, tzinfo=UTC))
