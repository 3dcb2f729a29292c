"""Router: owners, accounts, routing decisions, outbox, processed events.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
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

SCHEMA = "router"


def upgrade() -> None:
    op.create_table(
        "owners",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        schema=SCHEMA,
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("domains", postgresql.ARRAY(sa.String(255)), nullable=False),
        sa.Column("owner_id", sa.String(100), sa.ForeignKey(f"{SCHEMA}.owners.id")),
        sa.Column("firm_id", sa.String(100)),
        sa.Column("firm_starts_on", sa.Date()),
        sa.Column("firm_ends_on", sa.Date()),
        sa.Column("firm_notice_ends_on", sa.Date()),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_router_accounts_domains",
        "accounts",
        ["domains"],
        schema=SCHEMA,
        postgresql_using="gin",
    )
    op.create_table(
        "routing_decisions",
        sa.Column("lead_id", sa.Uuid(), primary_key=True),
        sa.Column("revision", sa.Integer(), primary_key=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.String(100)),
        sa.Column("owner_id", sa.String(100)),
        sa.Column("queue", sa.String(100)),
        sa.Column("ruleset_version", sa.String(100), nullable=False),
        sa.Column("event", postgresql.JSONB(), nullable=False),
        schema=SCHEMA,
    )
    create_plumbing_tables(SCHEMA)


def downgrade() -> None:
    drop_plumbing_tables(SCHEMA)
    op.drop_table("routing_decisions", schema=SCHEMA)
    op.drop_table("accounts", schema=SCHEMA)
    op.drop_table("owners", schema=SCHEMA)
