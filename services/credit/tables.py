"""Credit's tables (schema ``credit``), declared once, SQLAlchemy Core; created by the
migrations. The queries are in ``store`` (the decision path) and ``report_queries``
(statements and reports)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "credit"
metadata = MetaData(schema=SCHEMA)
TZ = DateTime(timezone=True)

contracts = Table(
    "contracts",
    metadata,
    Column("firm_id", String(100), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("terms", JSONB, nullable=False),
    Column("created_at", TZ, server_default=func.now()),
)
facts = Table(
    "facts",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("lead_id", Uuid, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("occurred_at", TZ, nullable=False),
    Column("email_domain", String(255)),
    Column("data", JSONB, nullable=False),
)
touches = Table(
    "touches",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("firm_id", String(100), nullable=False),
    Column("email_domain", String(255), nullable=False),
    Column("occurred_at", TZ, nullable=False),
)
review_queue = Table(
    "review_queue",
    metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("queued_at", TZ, server_default=func.now(), nullable=False),
)
claims = Table(
    "claims",
    metadata,
    Column("kind", String(20), primary_key=True),  # return | inbound
    Column("lead_id", Uuid, primary_key=True),
    Column("firm_id", String(100), nullable=False),
    Column("scope", String(255), nullable=False),  # '' (the firm's) or an account
    Column("period", String(7), nullable=False),
    Column("at", TZ, nullable=False),
)
meeting_places = Table(  # volume tiers: each credited meeting's place in its firm's month
    "meeting_places",
    metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("meeting_id", String(100), primary_key=True),
    Column("firm_id", String(100), nullable=False),
    Column("period", String(7), nullable=False),
    Column("at", TZ, nullable=False),  # when the meeting earned its credit
    Index("ix_credit_meeting_places_rank", "firm_id", "period", "at", "meeting_id"),
)
decisions = Table(
    "credit_decisions",
    metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("routing_revision", Integer, nullable=False),
    Column("firm_id", String),
    Column("state", String(20), nullable=False),
    Column("amount", Numeric(12, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("policy_version", String, nullable=False),
    Column("contract_version", String),
    Column("decided_at", TZ, nullable=False),
    Column("event", JSONB, nullable=False),
    # set on the current revision only: when, with no new fact, the decision changes
    Column("next_review_at", TZ),
)
ledger = Table(
    "ledger",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("lead_id", Uuid, nullable=False),
    Column("decision_revision", Integer, nullable=False),
    Column("firm_id", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("amount", Numeric(12, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("meetings", Integer, nullable=False),
    Column("period", String(7), nullable=False),
    Column("payable_on", Date, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", TZ, server_default=func.now()),
)
backtests = Table(  # a contract backtest, as a job (shared/jobs.py): asked, progress, found
    "backtests",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("firm_id", String(100), nullable=False),
    Column("window_from", Date, nullable=False),
    Column("window_to", Date, nullable=False),
    Column("status", String(20), nullable=False),  # queued | running | done | failed
    Column("request", JSONB, nullable=False),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("done", Integer, nullable=False, server_default="0"),
    Column("result", JSONB),
    Column("error", Text),
    Column("ran_by", String(300), nullable=False),
    Column("ran_at", TZ, nullable=False),
    Column("heartbeat_at", TZ),
    Column("finished_at", TZ),
    Index("ix_credit_backtests_firm", "firm_id", "ran_at"),
)
