"""Credit: places under a monthly cap are one table for every cap (``claims``): a firm's
returns (as ``returns`` held them, scope '') and a firm's inbound credits on one account
(scope: the account). The conflict rule between firms is gone (a firm's credit depends on
its own facts only), so ``protection_days`` leaves the stored terms.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "credit"


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("lead_id", sa.Uuid, primary_key=True),
        sa.Column("firm_id", sa.String(100), nullable=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_credit_claims_place",
        "claims",
        ["kind", "firm_id", "scope", "period", "at", "lead_id"],
        schema=SCHEMA,
    )
    op.execute(
        "INSERT INTO credit.claims (kind, lead_id, firm_id, scope, period, at) "
        "SELECT 'return', lead_id, firm_id, '', period, returned_at FROM credit.returns"
    )
    op.drop_table("returns", schema=SCHEMA)
    op.execute("UPDATE credit.contracts SET terms = terms - 'protection_days'")


def downgrade() -> None:
    op.create_table(
        "returns",
        sa.Column("lead_id", sa.Uuid, primary_key=True),
        sa.Column("firm_id", sa.String(100), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.execute(
        "INSERT INTO credit.returns SELECT lead_id, firm_id, period, at "
        "FROM credit.claims WHERE kind = 'return'"
    )
    op.drop_table("claims", schema=SCHEMA)
