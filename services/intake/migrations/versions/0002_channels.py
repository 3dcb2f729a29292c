"""Intake channels: lead matching fields, repeat touches, idempotency keys, firms and
their API keys, forms, webhook sources and receipts, activities, meetings, imports.

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

SCHEMA = "intake"
TZ = sa.DateTime(timezone=True)


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
    op.add_column("leads", sa.Column("firm_id", sa.String(100)), schema=SCHEMA)
    op.add_column("leads", sa.Column("company_key", sa.String(200)), schema=SCHEMA)
    op.add_column(
        "leads",
        sa.Column("disposable", sa.Boolean(), nullable=False, server_default=sa.false()),
        schema=SCHEMA,
    )
    op.add_column(
        "leads",
        sa.Column("dedup_scope", sa.String(500), nullable=False, server_default=""),
        schema=SCHEMA,
    )
    op.create_index("ix_intake_leads_dedup", "leads", ["dedup_scope", "received_at"], schema=SCHEMA)
    op.create_index("ix_intake_leads_firm", "leads", ["firm_id"], schema=SCHEMA)
    op.create_table(
        "lead_touches",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("lead_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("campaign", sa.String(200)),
        sa.Column("raw", postgresql.JSONB(), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("caller", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer()),
        sa.Column("headers", postgresql.JSONB()),
        sa.Column("body", sa.LargeBinary()),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        schema=SCHEMA,
    )
    op.create_table(
        "firms",
        sa.Column("firm_id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        schema=SCHEMA,
    )
    _partner_keys_table(SCHEMA).create(op.get_bind())
    op.create_table(
        "forms",
        sa.Column("form_key", sa.String(100), primary_key=True),
        sa.Column("config", postgresql.JSONB(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        schema=SCHEMA,
    )
    op.create_table(
        "webhook_sources",
        sa.Column("source", sa.String(100), primary_key=True),
        sa.Column("config", postgresql.JSONB(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        schema=SCHEMA,
    )
    op.create_table(
        "webhook_receipts",
        sa.Column("source", sa.String(100), primary_key=True),
        sa.Column("webhook_id", sa.String(200), primary_key=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response", postgresql.JSONB(), nullable=False),
        sa.Column("received_at", TZ, nullable=False, server_default=sa.func.now()),
        schema=SCHEMA,
    )
    op.create_table(
        "activities",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("firm_id", sa.String(100), nullable=False, index=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("logged_at", TZ, nullable=False),
        sa.Column("contact_email", sa.String(320), nullable=False),
        sa.Column("email_domain", sa.String(255), nullable=False),
        sa.Column("lead_id", sa.Uuid()),
        sa.Column("notes", sa.Text()),
        sa.Column("raw", postgresql.JSONB(), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "meetings",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("firm_id", sa.String(100), nullable=False, index=True),
        sa.Column("lead_id", sa.Uuid()),
        sa.Column("contact_email", sa.String(320), nullable=False),
        sa.Column("email_domain", sa.String(255), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("scheduled_for", TZ),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("history", postgresql.JSONB(), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "imports",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("campaign", sa.String(200)),
        sa.Column("rows_total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rows_accepted", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rows_duplicate", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rows_rejected", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("detail", sa.Text()),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("finished_at", TZ),
        schema=SCHEMA,
    )
    op.create_table(
        "import_errors",
        sa.Column("import_id", sa.Uuid(), primary_key=True),
        sa.Column("line", sa.Integer(), primary_key=True),
        sa.Column("field", sa.String(100), primary_key=True),
        sa.Column("reason", sa.Text(), nullable=False),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in (
        "import_errors",
        "imports",
        "meetings",
        "activities",
        "webhook_receipts",
        "webhook_sources",
        "forms",
        "partner_keys",
        "firms",
        "idempotency_keys",
        "lead_touches",
    ):
        op.drop_table(table, schema=SCHEMA)
    op.drop_index("ix_intake_leads_firm", "leads", schema=SCHEMA)
    op.drop_index("ix_intake_leads_dedup", "leads", schema=SCHEMA)
    for column in ("dedup_scope", "disposable", "company_key", "firm_id"):
        op.drop_column("leads", column, schema=SCHEMA)
