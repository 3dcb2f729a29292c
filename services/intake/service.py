"""Intake's use cases: register a lead and publish it, in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.domain.normalize import NormalizedLead
from services.intake.store import LeadRow
from shared.events.envelope import utcnow
from shared.events.leads import LeadReceived
from shared.outbox import Outbox


async def register_lead(
    session: AsyncSession,
    outbox: Outbox,
    lead: NormalizedLead,
    *,
    channel: str,
    raw: dict[str, Any],
    received_at: datetime | None = None,
) -> UUID:
    """Store the lead and its ``lead.received`` event atomically; returns the lead id."""
    lead_id = uuid4()
    received_at = received_at or utcnow()
    async with session.begin():
        session.add(
            LeadRow(
                id=lead_id,
                received_at=received_at,
                channel=channel,
                source=lead.source,
                campaign=lead.campaign,
                email=lead.email,
                email_domain=lead.email_domain,
                free_mail=lead.free_mail,
                name=lead.name,
                company=lead.company,
                title=lead.title,
                phone=lead.phone,
                country=lead.country,
                raw=raw,
            )
        )
        await outbox.add(
            session,
            LeadReceived(
                lead_id=lead_id,
                received_at=received_at,
                channel=channel,
                source=lead.source,
                campaign=lead.campaign,
                email=lead.email,
                email_domain=lead.email_domain,
                free_mail=lead.free_mail,
                name=lead.name,
                company=lead.company,
                title=lead.title,
                phone=lead.phone,
                country=lead.country,
            ),
        )
    return lead_id
