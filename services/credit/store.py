"""Credit's tables (schema ``credit``) and their queries."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime, Numeric, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

SCHEMA = "credit"


class CreditDecisionRow(SQLModel, table=True):
    __tablename__ = "credit_decisions"
    __table_args__ = {"schema": SCHEMA}

    lead_id: UUID = Field(primary_key=True)
    revision: int = Field(primary_key=True)
    routing_revision: int
    firm_id: str | None = None
    state: str = Field(max_length=20)
    amount: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    currency: str = Field(max_length=3)
    policy_version: str
    decided_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    event: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))


async def latest_decision(session: AsyncSession, lead_id: UUID) -> CreditDecisionRow | None:
    query = (
        select(CreditDecisionRow)
        .where(CreditDecisionRow.lead_id == lead_id)  # type: ignore[arg-type]
        .order_by(CreditDecisionRow.revision.desc())  # type: ignore[attr-defined]
        .limit(1)
    )
    return (await session.execute(query)).scalars().first()


async def decision_count(session: AsyncSession, lead_id: UUID) -> int:
    query = select(func.count()).where(CreditDecisionRow.lead_id == lead_id)  # type: ignore[arg-type]
    return int(await session.scalar(query) or 0)
