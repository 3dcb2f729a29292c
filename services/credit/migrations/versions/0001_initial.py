"""Credit: credit decisions, outbox, processed events.

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

SCHEMA = "credit"


def upgrade() -> None:
    op.create_table(
        "credit_decisions",
        sa.Column("lead_id", sa.Uuid(), primary_key=True),
        sa.Column("revision", sa.Integer(), primary_key=True),
        sa.Column("routing_revision", sa.Integer(), nullable=False),
        sa.Column("firm_id", sa.String(100)),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("policy_version", sa.String(100), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", postgresql.JSONB(), nullable=False),
        schema=SCHEMA,
    )
    create_plumbing_tables(SCHEMA)


def downgrade() -> None:
    drop_plumbing_tables(SCHEMA)
    op.drop_table("credit_decisions", schema=SCHEMA)
