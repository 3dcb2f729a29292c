"""Intake's tables (schema ``intake``) and their queries. No business rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime
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


async def get_lead(session: AsyncSession, lead_id: UUID) -> LeadRow | None:
    return await session.get(LeadRow, lead_id)
