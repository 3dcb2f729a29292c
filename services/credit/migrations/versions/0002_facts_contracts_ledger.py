"""Credit: contracts (versioned terms), facts per lead, touches, ledger, partner keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "credit"


def _partner_keys_table(schema: str) -> sa.Table:
    """A service's copy of the firms' partner keys, as it was (access.credentials since)."""
    return sa.Table(
        "partner_keys",
        sa.MetaData(schema=schema),
        sa.Column("key_id", sa.String(40), primary_key=True),
        sa.Column("firm_id", sa.String(100), nullable=False, index=True),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False, server_default="false"),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def upgrade() -> None:
    op.create_table(
        "contracts",
        sa.Column("firm_id", sa.String(100), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("terms", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "facts",
        sa.Column("event_id", sa.Uuid(), primary_key=True),
        sa.Column("lead_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("email_domain", sa.String(255)),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_credit_facts_received_domain",
        "facts",
        ["email_domain"],
        schema=SCHEMA,
        postgresql_where=sa.text("kind = 'received'"),
    )
    op.create_table(
        "touches",
        sa.Column("event_id", sa.Uuid(), primary_key=True),
        sa.Column("firm_id", sa.String(100), nullable=False),
        sa.Column("email_domain", sa.String(255), nullable=False, index=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "ledger",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("decision_revision", sa.Integer(), nullable=False),
        sa.Column("firm_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("meetings", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("payable_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.UniqueConstraint("lead_id", "decision_revision", name="uq_credit_ledger_once"),
        schema=SCHEMA,
    )
    op.create_index("ix_credit_ledger_firm_period", "ledger", ["firm_id", "period"], schema=SCHEMA)
    op.add_column("credit_decisions", sa.Column("contract_version", sa.String(120)), schema=SCHEMA)
    _partner_keys_table(SCHEMA).create(op.get_bind())


def downgrade() -> None:
    _partner_keys_table(SCHEMA).drop(op.get_bind())
    op.drop_column("credit_decisions", "contract_version", schema=SCHEMA)
    op.drop_table("ledger", schema=SCHEMA)
    op.drop_table("touches", schema=SCHEMA)
    op.drop_table("facts", schema=SCHEMA)
    op.drop_table("contracts", schema=SCHEMA)
