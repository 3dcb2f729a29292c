"""Router's tables (schema ``router``) as SQLModel rows. Rows never leave the edges
(store, workspace, bulk): they are mapped to the domain model there."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Column, DateTime, Identity, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

SCHEMA = "router"


class OwnerRow(SQLModel, table=True):
    __tablename__ = "owners"
    __table_args__ = {"schema": SCHEMA}

    id: str = Field(primary_key=True, max_length=100)
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    active: bool = True
    team_id: str | None = Field(default=None, max_length=100)
    manager_id: str | None = Field(default=None, max_length=100)
    capacity: int | None = None
    weight: int = 1
    out_of_office: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]")
    )
    open_leads: int = 0
    business_hours: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    # Where the owner is told of their leads (schemas.OwnerChannelsIn): email, Slack.
    notify: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}")
    )


class TeamRow(SQLModel, table=True):
    __tablename__ = "teams"
    __table_args__ = {"schema": SCHEMA}

    id: str = Field(primary_key=True, max_length=100)
    name: str = Field(max_length=200)
    queue: str | None = Field(default=None, max_length=100)
    sla: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))


class TerritoryRow(SQLModel, table=True):
    __tablename__ = "territories"
    __table_args__ = {"schema": SCHEMA}

    id: str = Field(primary_key=True, max_length=100)
    name: str = Field(max_length=200)
    countries: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String(2))))
    regions: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String(100))))
    states: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String(100))))


class AccountRow(SQLModel, table=True):
    __tablename__ = "accounts"
    __table_args__ = {"schema": SCHEMA}

    id: str = Field(primary_key=True, max_length=100)
    name: str = Field(max_length=300)
    domains: list[str] = Field(sa_column=Column(ARRAY(String(255)), nullable=False))
    owner_id: str | None = Field(default=None, max_length=100)
    firm_id: str | None = Field(default=None, max_length=100)
    firm_starts_on: date | None = None
    firm_ends_on: date | None = None
    firm_notice_ends_on: date | None = None
    parent_id: str | None = Field(default=None, max_length=100)
    customer: bool = False
    account_manager_id: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=2)
    region: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, max_length=100)
    employees: int | None = None
    industry: str | None = Field(default=None, max_length=100)
    firm_cross_sell: bool = False
    name_block: str = Field(default="", max_length=8)


class RoundRobinRow(SQLModel, table=True):
    __tablename__ = "round_robin"
    __table_args__ = {"schema": SCHEMA}

    team_id: str = Field(primary_key=True, max_length=100)
    owner_id: str = Field(primary_key=True, max_length=100)
    counter: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class RuleSetRow(SQLModel, table=True):
    __tablename__ = "rulesets"
    __table_args__ = {"schema": SCHEMA}

    version: str = Field(primary_key=True, max_length=100)
    body: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    source: str = Field(sa_column=Column(Text, nullable=False))
    active: bool = False
    created_at: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    activated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class LeadRow(SQLModel, table=True):
    """The lead as it arrived (``lead.received`` data), kept to route it again."""

    __tablename__ = "leads"
    __table_args__ = {"schema": SCHEMA}

    lead_id: UUID = Field(primary_key=True)
    received: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    rejected_by: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(String(100)), nullable=False)
    )
    closed: bool = False  # closed or disqualified: no longer counts against capacity


class RoutingDecisionRow(SQLModel, table=True):
    __tablename__ = "routing_decisions"
    __table_args__ = {"schema": SCHEMA}

    lead_id: UUID = Field(primary_key=True)
    revision: int = Field(primary_key=True)
    decided_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    account_id: str | None = None
    owner_id: str | None = None
    team_id: str | None = None
    rule: str | None = None
    queue: str | None = None
    ruleset_version: str
    event: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))


class LifecycleRow(SQLModel, table=True):
    """Where a lead is in its lifecycle, and every move it made (``history``: stage,
    from, occurred_at, recorded_at, actor, source, in_order, ...). Locked (after the
    lead's row, when there is one) by everything that moves the lead."""

    __tablename__ = "lifecycles"
    __table_args__ = {"schema": SCHEMA}

    lead_id: UUID = Field(primary_key=True)
    stage: str = Field(max_length=30)
    stage_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    owner_id: str | None = Field(default=None, max_length=100)
    revision: int | None = None  # the routing revision in force
    history: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]")
    )
    updated_at: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class SlaTimerRow(SQLModel, table=True):
    """A durable SLA timer of one routing revision: pending until it fires (once, with
    its event, in one transaction) or is cancelled (accepted, rejected, re-routed)."""

    __tablename__ = "sla_timers"
    __table_args__ = {"schema": SCHEMA}

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    lead_id: UUID
    revision: int
    kind: str = Field(max_length=20)  # reminder, breach, reassign
    owner_id: str | None = Field(default=None, max_length=100)
    account_id: str | None = Field(default=None, max_length=100)
    sla_name: str = Field(max_length=100)
    sla_minutes: int
    routed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    due_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    fire_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    status: str = Field(default="pending", max_length=20)  # pending, fired, cancelled
    settled_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class BacktestRow(SQLModel, table=True):
    """A routing backtest, as a job: what was asked, how far it got, what it found. A
    stored rule set's (``ruleset_version``) is what an activation may require."""

    __tablename__ = "backtests"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    ruleset_version: str | None = Field(default=None, max_length=100)  # a stored rule set's
    window_from: date
    window_to: date
    status: str = Field(default="queued", max_length=20)  # queued|running|done|failed
    request: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    total: int = 0  # leads in the window
    done: int = 0  # leads decided so far
    leads: int | None = None
    differences: int | None = None
    rotation: int | None = None
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    error: str | None = None
    ran_by: str = Field(max_length=300)
    ran_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    heartbeat_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )  # the runner's, while it runs
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
