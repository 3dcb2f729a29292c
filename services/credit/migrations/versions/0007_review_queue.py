"""Credit: leads waiting to be re-decided because a touch bears on them. A touch used to
re-decide every such lead inline, in the consumer's transaction under each lead's lock —
on a busy domain with credit behind, that transaction grew with the backlog and blocked
the other instances. Now it queues them (one row per lead, however many touches) and the
review sweep re-decides each in a small transaction of its own.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "credit"


def upgrade() -> None:
    op.create_table(
        "review_queue",
        sa.Column("lead_id", sa.Uuid, primary_key=True),
        sa.Column(
            "queued_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_credit_review_queue_time", "review_queue", ["queued_at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("review_queue", schema=SCHEMA)
