"""Router's tables (schema ``router``), their queries, and the mapping from rows to the
domain model. ORM rows never leave this module."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime, String, func, select
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from services.router.domain.model import Account, FirmAssignment, Owner

SCHEMA = "router"


class OwnerRow(SQLModel, table=True):
    __tablename__ = "owners"
    __table_args__ = {"schema": SCHEMA}

    id: str = Field(primary_key=True, max_length=100)
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    active: bool = True


class AccountRow(SQLModel, table=True):
    __tablename__ = "accounts"
    __table_args__ = {"schema": SCHEMA}

    id: str = Field(primary_key=True, max_length=100)
    name: str = Field(max_length=300)
    domains: list[str] = Field(sa_column=Column(ARRAY(String(255)), nullable=False))
    owner_id: str | None = Field(default=None, foreign_key=f"{SCHEMA}.owners.id")
    firm_id: str | None = Field(default=None, max_length=100)
    firm_starts_on: date | None = None
    firm_ends_on: date | None = None
    firm_notice_ends_on: date | None = None


class RoutingDecisionRow(SQLModel, table=True):
    __tablename__ = "routing_decisions"
    __table_args__ = {"schema": SCHEMA}

    lead_id: UUID = Field(primary_key=True)
    revision: int = Field(primary_key=True)
    decided_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    account_id: str | None = None
    owner_id: str | None = None
    queue: str | None = None
    ruleset_version: str
    event: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))


def _to_domain(row: AccountRow, owner: OwnerRow | None) -> Account:
    assignment = None
    if row.firm_id and row.firm_starts_on:
        assignment = FirmAssignment(
            row.firm_id, row.firm_starts_on, row.firm_ends_on, row.firm_notice_ends_on
        )
    return Account(
        account_id=row.id,
        name=row.name,
        domains=frozenset(row.domains),
        owner=Owner(owner.id, owner.name, owner.role, owner.active) if owner else None,
        firm_assignment=assignment,
    )


async def accounts_with_domain(session: AsyncSession, domain: str) -> list[Account]:
    query = (
        select(AccountRow, OwnerRow)
        .outerjoin(OwnerRow, AccountRow.owner_id == OwnerRow.id)  # type: ignore[arg-type]
        .where(AccountRow.domains.contains([domain]))  # type: ignore[attr-defined]
    )
    rows = (await session.execute(query)).all()
    return [_to_domain(account, owner) for account, owner in rows]


async def latest_decision(session: AsyncSession, lead_id: UUID) -> RoutingDecisionRow | None:
    query = (
        select(RoutingDecisionRow)
        .where(RoutingDecisionRow.lead_id == lead_id)  # type: ignore[arg-type]
        .order_by(RoutingDecisionRow.revision.desc())  # type: ignore[attr-defined]
        .limit(1)
    )
    return (await session.execute(query)).scalars().first()


async def decision_count(session: AsyncSession, lead_id: UUID) -> int:
    query = select(func.count()).where(RoutingDecisionRow.lead_id == lead_id)  # type: ignore[arg-type]
    return int(await session.scalar(query) or 0)
