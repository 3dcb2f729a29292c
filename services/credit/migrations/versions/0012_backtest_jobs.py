"""Credit: a contract backtest is a job (``backtests``: queued, running, done or failed,
with its request, progress and result), run in a child process away from the live lane.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "credit"
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "backtests",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("firm_id", sa.String(100), nullable=False),
        sa.Column("window_from", sa.Date(), nullable=False),
        sa.Column("window_to", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("request", JSONB, nullable=False),
        sa.Column("total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("result", JSONB),
        sa.Column("error", sa.Text()),
        sa.Column("ran_by", sa.String(300), nullable=False),
        sa.Column("ran_at", TZ, nullable=False),
        sa.Column("heartbeat_at", TZ),
        sa.Column("finished_at", TZ),
        schema=SCHEMA,
    )
    op.create_index("ix_credit_backtests_firm", "backtests", ["firm_id", "ran_at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("backtests", schema=SCHEMA)
