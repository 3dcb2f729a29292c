"""Credit: when each current decision must be looked at again (next_review_at, for the
sweep), and the returns counted against each firm's monthly cap.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "credit"


def upgrade() -> None:
    op.add_column(
        "credit_decisions",
        sa.Column("next_review_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_credit_decisions_due",
        "credit_decisions",
        ["next_review_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("next_review_at IS NOT NULL"),
    )
    op.create_table(
        "returns",
        sa.Column("lead_id", sa.Uuid(), primary_key=True),
        sa.Column("firm_id", sa.String(100), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_credit_returns_firm_period",
        "returns",
        ["firm_id", "period", "returned_at", "lead_id"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("returns", schema=SCHEMA)
    op.drop_index("ix_credit_decisions_due", "credit_decisions", schema=SCHEMA)
    op.drop_column("credit_decisions", "next_review_at", schema=SCHEMA)
