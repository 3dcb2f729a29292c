"""Intake: leads, outbox, processed events.

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

SCHEMA = "intake"


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("campaign", sa.String(200)),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_domain", sa.String(255), nullable=False),
        sa.Column("free_mail", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("name", sa.String(200)),
        sa.Column("company", sa.String(200)),
        sa.Column("title", sa.String(200)),
        sa.Column("phone", sa.String(40)),
        sa.Column("country", sa.String(2)),
        sa.Column("raw", postgresql.JSONB(), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_intake_leads_email", "leads", ["email"], schema=SCHEMA)
    create_plumbing_tables(SCHEMA)


def downgrade() -> None:
    drop_plumbing_tables(SCHEMA)
    op.drop_table("leads", schema=SCHEMA)
