"""Credit: each credited meeting's place in its firm's month (``meeting_places``), so a
volume tier is the meeting's rank in event time, not the count of every meeting booked
that month when its lead happens to be decided again.

The places are not derived here (they come from the facts, through the policy): every
current decision whose lead has credited meetings in the ledger is put up for review as
of when it was made, so the sweep re-decides them and each takes its place; a meeting
the old count priced wrongly is corrected in the ledger then.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "credit"


def upgrade() -> None:
    op.create_table(
        "meeting_places",
        sa.Column("lead_id", sa.Uuid, primary_key=True),
        sa.Column("meeting_id", sa.String(100), primary_key=True),
        sa.Column("firm_id", sa.String(100), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_credit_meeting_places_rank",
        "meeting_places",
        ["firm_id", "period", "at", "meeting_id"],
        schema=SCHEMA,
    )
    op.execute(
        "UPDATE credit.credit_decisions d SET next_review_at = d.decided_at "
        "WHERE d.lead_id IN (SELECT lead_id FROM credit.ledger GROUP BY lead_id "
        " HAVING sum(meetings) > 0) "
        "AND NOT EXISTS (SELECT 1 FROM credit.credit_decisions n "
        " WHERE n.lead_id = d.lead_id AND n.revision > d.revision)"
    )


def downgrade() -> None:
    op.drop_table("meeting_places", schema=SCHEMA)
