"""Credit: a domain's received leads and its touches by time, so a touch re-decides only
the leads after it inside the look-back horizon and a lead reads only the touches in the
horizon before it (both were whole-domain reads: quadratic on a busy domain).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "credit"


def upgrade() -> None:
    op.drop_index("ix_credit_facts_received_domain", "facts", schema=SCHEMA)
    op.create_index(
        "ix_credit_facts_received_domain_time",
        "facts",
        ["email_domain", "occurred_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("kind = 'received'"),
    )
    op.create_index(
        "ix_credit_touches_domain_time", "touches", ["email_domain", "occurred_at"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_index("ix_credit_touches_domain_time", "touches", schema=SCHEMA)
    op.drop_index("ix_credit_facts_received_domain_time", "facts", schema=SCHEMA)
    op.create_index(
        "ix_credit_facts_received_domain",
        "facts",
        ["email_domain"],
        schema=SCHEMA,
        postgresql_where=sa.text("kind = 'received'"),
    )
