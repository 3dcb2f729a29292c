"""Intake's lead use case: register a lead, or record a repeat touch of one, and publish
the fact, in the caller's transaction (state and outbox together: nothing half-written).
One lead is a batch of one (``bulk.register``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.bulk import Entry, Registered, register
from services.intake.domain.normalize import NormalizedLead
from shared.db import driver_connection
from shared.outbox import Outbox

__all__ = ["DEFAULT_WINDOW", "Registered", "submit_lead"]

DEFAULT_WINDOW = timedelta(days=30)


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
    entry = Entry(lead, raw, channel, firm_id, received_at=received_at)
    return (await register(await driver_connection(session), outbox, [entry], window=window))[0]
