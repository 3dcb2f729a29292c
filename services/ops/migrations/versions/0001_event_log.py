"""Ops: the event log (every envelope once, in stream order), partner keys, plumbing.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.plumbing_tables import create_plumbing_tables, drop_plumbing_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ops"


def _partner_keys_table(schema: str) -> sa.Table:
    """A service's copy of the firms' partner keys, as it was (access.credentials since)."""
    return sa.Table(
        "partner_keys",
        sa.MetaData(schema=schema),
        sa.Column("key_id", sa.String(40), primary_key=True),
        sa.Column("firm_id", sa.String(100), nullable=False, index=True),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False, server_default="false"),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def upgrade() -> None:
    op.create_table(
        "event_log",
        sa.Column("seq", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(300)),
        sa.Column("lead_id", sa.Uuid()),
        sa.Column("firm_id", sa.String(100)),
        sa.Column("account_id", sa.String(100)),
        sa.Column("owner_id", sa.String(100)),
        sa.Column("channel", sa.String(100)),
        sa.Column("campaign", sa.String(200)),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_ops_event_log_lead", "event_log", ["lead_id", "time"], schema=SCHEMA)
    op.create_index("ix_ops_event_log_type_time", "event_log", ["type", "time"], schema=SCHEMA)
    op.create_index("ix_ops_event_log_firm", "event_log", ["firm_id", "seq"], schema=SCHEMA)
    op.create_index("ix_ops_event_log_account", "event_log", ["account_id", "seq"], schema=SCHEMA)
    create_plumbing_tables(SCHEMA)
    _partner_keys_table(SCHEMA).create(op.get_bind())


def downgrade() -> None:
    _partner_keys_table(SCHEMA).drop(op.get_bind())
    drop_plumbing_tables(SCHEMA)
    op.drop_table("event_log", schema=SCHEMA)
