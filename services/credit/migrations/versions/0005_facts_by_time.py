"""Credit: facts by event time, so a firm's daily report or weekly summary reads the
leads with something in its window instead of every lead the firm ever had.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "credit"


def upgrade() -> None:
    op.create_index("ix_credit_facts_time", "facts", ["occurred_at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_credit_facts_time", "facts", schema=SCHEMA)
