"""Ops: notifications to people (the queue, each recipient's pace, the notifier's cursor),
and an index to find each owner's latest directory record in the event log.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ops"


def _at(name: str, **kw: object) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), **kw)  # type: ignore[arg-type]


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("recipient_id", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("address", sa.String(2000), nullable=False),
        sa.Column("lead_id", sa.Uuid()),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("sentence", sa.String(2000), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        _at("occurred_at", nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        _at("next_attempt_at", nullable=False),
        _at("leased_until"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        _at("first_attempt_at"),
        sa.Column("last_error", sa.String(300)),
        _at("sent_at"),
        sa.Column("message_id", sa.String(100)),
        _at("created_at", nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("key", "recipient_id", "channel", name="uq_ops_notification_key"),
        schema=SCHEMA,
    )
    # The notifier's queue: only pending notifications, by when they are due.
    op.create_index(
        "ix_ops_notifications_due",
        "notifications",
        ["next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_ops_notifications_recipient",
        "notifications",
        ["recipient_id", "id"],
        schema=SCHEMA,
    )
    op.create_table(
        "notify_pace",
        sa.Column("recipient_id", sa.String(100), primary_key=True),
        sa.Column("channel", sa.String(10), primary_key=True),
        _at("last_sent_at", nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "notify_cursor",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("after_seq", sa.BigInteger(), nullable=False),
        schema=SCHEMA,
    )
    # A new notifier starts from now: the log's past is not told again.
    op.execute(
        "INSERT INTO ops.notify_cursor (id, after_seq) "
        "SELECT 1, coalesce(max(seq), 0) FROM ops.event_log"
    )
    op.create_index(
        "ix_ops_event_log_owner_directory",
        "event_log",
        ["owner_id", sa.text("seq DESC")],
        schema=SCHEMA,
        postgresql_where=sa.text("type = 'leadflow.owner.updated.v1'"),
    )


def downgrade() -> None:
    op.drop_index("ix_ops_event_log_owner_directory", "event_log", schema=SCHEMA)
    op.drop_table("notify_cursor", schema=SCHEMA)
    op.drop_table("notify_pace", schema=SCHEMA)
    op.drop_table("notifications", schema=SCHEMA)
