"""Router: an owner's notification channels (email, Slack incoming webhook), published
with the rest of the owner's record on ``owners.updated`` for ops' notifier.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "router"


def upgrade() -> None:
    op.add_column(
        "owners",
        sa.Column("notify", JSONB, nullable=False, server_default="{}"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("owners", "notify", schema=SCHEMA)
