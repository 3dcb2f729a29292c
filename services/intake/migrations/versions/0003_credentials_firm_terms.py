"""Intake: firms' partner keys move to ``access.credentials`` (one table every service
reads, so a revocation holds everywhere at once instead of when each service's consumer
catches up), and intake keeps the one contract term it enforces at the door: how many
days back a firm may report a touch or a meeting change (from ``firms.contracts``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "intake"


def upgrade() -> None:
    op.execute(
        "INSERT INTO access.credentials "
        "(key_id, name, firm_id, scopes, token_sha256, created_at, created_by, revoked_at, "
        "revoked_by) "
        "SELECT key_id, 'partner key', firm_id, ARRAY['partner'], token_sha256, changed_at, "
        "'migration', CASE WHEN revoked THEN changed_at END, "
        "CASE WHEN revoked THEN 'migration' END "
        "FROM intake.partner_keys ON CONFLICT (key_id) DO NOTHING"
    )
    op.drop_table("partner_keys", schema=SCHEMA)
    op.create_table(
        "firm_terms",
        sa.Column("firm_id", sa.String(100), primary_key=True),
        sa.Column("contract_version", sa.Integer, nullable=False),
        sa.Column("reporting_window_days", sa.Integer, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("firm_terms", schema=SCHEMA)
    op.create_table(
        "partner_keys",
        sa.Column("key_id", sa.String(40), primary_key=True),
        sa.Column("firm_id", sa.String(100), nullable=False, index=True),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
