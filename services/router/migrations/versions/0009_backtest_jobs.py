"""Router: a backtest is a job (queued, running, done or failed) with its request, its
progress and its result, run away from the live lane; any rule set's, not only a stored
one's. Backtests kept before this are done jobs without a stored result.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "router"
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    for column in ("ruleset_version", "leads", "differences", "rotation"):
        op.alter_column("backtests", column, nullable=True, schema=SCHEMA)
    op.add_column(
        "backtests",
        sa.Column("status", sa.String(20), nullable=False, server_default="done"),
        schema=SCHEMA,
    )
    op.alter_column("backtests", "status", server_default=None, schema=SCHEMA)
    op.add_column(
        "backtests",
        sa.Column("request", JSONB, nullable=False, server_default="{}"),
        schema=SCHEMA,
    )
    op.alter_column("backtests", "request", server_default=None, schema=SCHEMA)
    for column in ("total", "done"):
        op.add_column(
            "backtests",
            sa.Column(column, sa.Integer(), nullable=False, server_default="0"),
            schema=SCHEMA,
        )
    op.add_column("backtests", sa.Column("result", JSONB), schema=SCHEMA)
    op.add_column("backtests", sa.Column("error", sa.String()), schema=SCHEMA)
    op.add_column("backtests", sa.Column("heartbeat_at", TZ), schema=SCHEMA)
    op.add_column("backtests", sa.Column("finished_at", TZ), schema=SCHEMA)
    op.execute("UPDATE router.backtests SET total = leads, done = leads, finished_at = ran_at")
    op.create_index(
        "ix_router_backtests_waiting",
        "backtests",
        ["ran_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )


def downgrade() -> None:
    op.drop_index("ix_router_backtests_waiting", "backtests", schema=SCHEMA)
    op.execute("DELETE FROM router.backtests WHERE status <> 'done' OR ruleset_version IS NULL")
    for column in (
        "finished_at", "heartbeat_at", "error", "result", "done", "total", "request", "status"
    ):  # fmt: skip
        op.drop_column("backtests", column, schema=SCHEMA)
    for column in ("ruleset_version", "leads", "differences", "rotation"):
        op.alter_column("backtests", column, nullable=False, schema=SCHEMA)
