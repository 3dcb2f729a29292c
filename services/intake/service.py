"""Intake's lead use cases: register a lead, or record a repeat touch of one, and publish
the fact, in the caller's transaction (state and outbox together: nothing half-written)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.domain.dedup import dedup_scope, is_repeat, window_start
from services.intake.domain.normalize import NormalizedLead
from services.intake.store import LeadRow, LeadTouchRow, first_in_window
from shared.events.envelope import utcnow
from shared.events.leads import LeadReceived
from shared.events.status import LeadDuplicate
from shared.outbox import Outbox

DEFAULT_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Registered:
    lead_id: UUID
    duplicate: bool


async def submit_lead(
    session: AsyncSession,
    outbox: Outbox,
    lead: NormalizedLead,
    *,
    channel: str,
    raw: dict[str, Any],
    firm_id: str | None = None,
    window: timedelta = DEFAULT_WINDOW,
    received_at: datetime | None = None,
) -> Registered:
    """Inside an open transaction: a new lead (``lead.received``) or, for the same person
    from the same source within ``window``, a repeat touch (``lead.duplicate``)."""
    received_at = received_at or utcnow()
    scope = dedup_scope(lead.email, lead.source, firm_id)
    # Serialize submissions of one scope so two concurrent posts make one lead, not two.
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(scope))))
    first = await first_in_window(session, scope, window_start(received_at, window))
    if first is not None and is_repeat(first.received_at, received_at, window):
        touch_id = uuid4()
        session.add(
            LeadTouchRow(
                id=touch_id,
                lead_id=first.id,
                received_at=received_at,
                channel=channel,
                source=lead.source,
                campaign=lead.campaign,
                raw=raw,
            )
        )
        await outbox.add(
            session,
            LeadDuplicate(
                lead_id=first.id,
                submission_id=touch_id,
                channel=channel,
                source=lead.source,
                campaign=lead.campaign,
                firm_id=firm_id,
                received_at=received_at,
            ),
        )
        return Registered(first.id, duplicate=True)
    lead_id = uuid4()
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
            firm_id=firm_id,
            company_key=lead.company_key,
            disposable=lead.disposable,
            dedup_scope=scope,
        )
    )
    await session.flush()  # visible to the next item of a batch in this transaction
    await outbox.add(
        session,
        LeadReceived(
            lead_id=lead_id,
            received_at=received_at,
            channel=channel,
            source=lead.source,
            campaign=lead.campaign,
            firm_id=firm_id,
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
    return Registered(lead_id, duplicate=False)
