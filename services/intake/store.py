"""Intake's tables (schema ``intake``) and their queries. No business rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

SCHEMA = "intake"


class LeadRow(SQLModel, table=True):
    __tablename__ = "leads"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    channel: str = Field(max_length=40)
    source: str = Field(max_length=100)
    campaign: str | None = Field(default=None, max_length=200)
    email: str = Field(max_length=320, index=True)
    email_domain: str = Field(max_length=255)
    free_mail: bool = False
    name: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    country: str | None = Field(default=None, max_length=2)
    raw: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    firm_id: str | None = Field(default=None, max_length=100)
    company_key: str | None = Field(default=None, max_length=200)
    disposable: bool = False
    dedup_scope: str = Field(default="", max_length=500)


class LeadTouchRow(SQLModel, table=True):
    """A repeat submission of a registered lead (same person, source, window)."""

    __tablename__ = "lead_touches"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    lead_id: UUID
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    channel: str = Field(max_length=40)
    source: str = Field(max_length=100)
    campaign: str | None = Field(default=None, max_length=200)
    raw: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))


async def get_lead(session: AsyncSession, lead_id: UUID) -> LeadRow | None:
    return await session.get(LeadRow, lead_id)


async def first_in_window(session: AsyncSession, scope: str, since: datetime) -> LeadRow | None:
    """The earliest lead of this dedup scope registered since ``since``."""
    found = await session.execute(
        select(LeadRow)
        .where(LeadRow.dedup_scope == scope, LeadRow.received_at >= since)  # type: ignore[arg-type]
        .order_by(LeadRow.received_at)  # type: ignore[arg-type]
        .limit(1)
    )
    return found.scalars().first()


async def latest_lead_of(
    session: AsyncSession, email: str, firm_id: str | None = None
) -> LeadRow | None:
    """The most recent lead of an address (of one firm's leads when ``firm_id`` is set)."""
    query = select(LeadRow).where(LeadRow.email == email)  # type: ignore[arg-type]
    if firm_id is not None:
        query = query.where(LeadRow.firm_id == firm_id)  # type: ignore[arg-type]
    found = await session.execute(query.order_by(LeadRow.received_at.desc()).limit(1))  # type: ignore[attr-defined]
    return found.scalars().first()
