"""Router: the lead lifecycle (stage and timestamped history per lead), durable SLA
timers, owners' business hours and teams' SLA.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "router"


def upgrade() -> None:
    op.add_column("owners", sa.Column("business_hours", postgresql.JSONB()), schema=SCHEMA)
    op.add_column("teams", sa.Column("sla", postgresql.JSONB()), schema=SCHEMA)
    op.create_table(
        "lifecycles",
        sa.Column("lead_id", sa.Uuid(), primary_key=True),
        sa.Column("stage", sa.String(30), nullable=False),
        sa.Column("stage_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner_id", sa.String(100)),
        sa.Column("revision", sa.Integer()),
        sa.Column("history", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "sla_timers",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("owner_id", sa.String(100)),
        sa.Column("account_id", sa.String(100)),
        sa.Column("sla_name", sa.String(100), nullable=False),
        sa.Column("sla_minutes", sa.Integer(), nullable=False),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fire_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("settled_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('pending', 'fired', 'cancelled')", name="sla_timer_status"),
        schema=SCHEMA,
    )
    # The timer worker's scan: only pending timers, by when they fire.
    op.create_index(
        "sla_timers_due",
        "sla_timers",
        ["fire_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("sla_timers_lead", "sla_timers", ["lead_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("sla_timers", schema=SCHEMA)
    op.drop_table("lifecycles", schema=SCHEMA)
    op.drop_column("teams", "sla", schema=SCHEMA)
    op.drop_column("owners", "business_hours", schema=SCHEMA)
