"""Ops: outbound webhooks (subscriptions, their deliveries, each attempt).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ops"


def _at(name: str, **kw: object) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), **kw)  # type: ignore[arg-type]


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("description", sa.String(200)),
        sa.Column("types", postgresql.ARRAY(sa.String(200)), nullable=False),
        sa.Column("owner_firm_id", sa.String(100)),
        sa.Column("firm_id", sa.String(100)),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("after_seq", sa.BigInteger(), nullable=False),
        _at("failing_since"),
        _at("disabled_at"),
        sa.Column("disabled_reason", sa.String(300)),
        sa.Column("created_by", sa.String(300), nullable=False),
        _at("created_at", nullable=False, server_default=sa.func.now()),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_ops_webhook_subscriptions_owner",
        "webhook_subscriptions",
        ["owner_firm_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "subscription_id",
            sa.Uuid(),
            sa.ForeignKey(f"{SCHEMA}.webhook_subscriptions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        _at("next_attempt_at"),
        _at("first_attempt_at"),
        _at("last_attempt_at"),
        sa.Column("last_status_code", sa.Integer()),
        _at("delivered_at"),
        _at("created_at", nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("subscription_id", "event_id", name="uq_ops_webhook_delivery_event"),
        schema=SCHEMA,
    )
    # The sender's queue: only pending deliveries, by when they are due.
    op.create_index(
        "ix_ops_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_ops_webhook_deliveries_log",
        "webhook_deliveries",
        ["subscription_id", "id"],
        schema=SCHEMA,
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "delivery_id",
            sa.BigInteger(),
            sa.ForeignKey(f"{SCHEMA}.webhook_deliveries.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _at("attempted_at", nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("error", sa.String(300)),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_ops_webhook_attempts_delivery", "webhook_attempts", ["delivery_id"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_table("webhook_attempts", schema=SCHEMA)
    op.drop_table("webhook_deliveries", schema=SCHEMA)
    op.drop_table("webhook_subscriptions", schema=SCHEMA)
