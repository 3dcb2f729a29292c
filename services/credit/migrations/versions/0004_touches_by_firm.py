"""Credit: touches by firm and time, for the firm's reports (touches logged, accounts
touched).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "credit"


def upgrade() -> None:
    op.create_index(
        "ix_credit_touches_firm_time", "touches", ["firm_id", "occurred_at"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_index("ix_credit_touches_firm_time", "touches", schema=SCHEMA)
