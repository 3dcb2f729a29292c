"""Intake: the outbox's unsent rows indexed by lane, so the relay sends the live lane's
events first (a bulk load's thousands of rows never hold a live lead back).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

from shared.plumbing_tables import drop_lane_index_ddl, lane_index_ddl

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "intake"


def upgrade() -> None:
    op.execute(lane_index_ddl(SCHEMA))


def downgrade() -> None:
    op.execute(drop_lane_index_ddl(SCHEMA))
