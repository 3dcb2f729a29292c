"""Intake's reads of registered leads (the writes are ``bulk.register``). No business
rules."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.tables import SCHEMA, leads

__all__ = ["SCHEMA", "get_lead", "latest_lead_of"]


async def get_lead(session: AsyncSession, lead_id: UUID) -> Any:
    """The lead's row (attributes by column), or None."""
    return (await session.execute(select(leads).where(leads.c.id == lead_id))).first()


async def latest_lead_of(session: AsyncSession, email: str, firm_id: str | None = None) -> Any:
    """The most recent lead of an address (of one firm's leads when ``firm_id`` is set)."""
    query = select(leads).where(leads.c.email == email)
    if firm_id is not None:
        query = query.where(leads.c.firm_id == firm_id)
    return (await session.execute(query.order_by(leads.c.received_at.desc()).limit(1))).first()
