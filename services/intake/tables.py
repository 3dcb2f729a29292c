"""Intake's tables (schema ``intake``), declared once, SQLAlchemy Core (created by the
migrations): leads and their repeat touches, idempotency keys, firms and the contract term
intake enforces, forms, webhook sources and receipts, activities, meetings, imports. No
business rules; the queries are in ``store`` and the modules of each channel."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "intake"
metadata = MetaData(schema=SCHEMA)
TZ = DateTime(timezone=True)

leads = Table(
    "leads",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("received_at", TZ, nullable=False),
    Column("channel", String(40), nullable=False),
    Column("source", String(100), nullable=False),
    Column("campaign", String(200)),
    Column("email", String(320), nullable=False, index=True),
    Column("email_domain", String(255), nullable=False),
    Column("free_mail", Boolean, nullable=False),
    Column("name", String(200)),
    Column("company", String(200)),
    Column("title", String(200)),
    Column("phone", String(40)),
    Column("country", String(2)),
    Column("raw", JSONB, nullable=False),
    Column("firm_id", String(100)),
    Column("company_key", String(200)),
    Column("disposable", Boolean, nullable=False),
    Column("dedup_scope", String(500), nullable=False),
)
lead_touches = Table(  # a repeat submission of a registered lead (same person, source, window)
    "lead_touches",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("lead_id", Uuid, nullable=False),
    Column("received_at", TZ, nullable=False),
    Column("channel", String(40), nullable=False),
    Column("source", String(100), nullable=False),
    Column("campaign", String(200)),
    Column("raw", JSONB, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("caller", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    Column("status", Integer),
    Column("headers", JSONB),
    Column("body", LargeBinary),
    Column("created_at", TZ, nullable=False, server_default=func.now()),
)

firms = Table(
    "firms",
    metadata,
    Column("firm_id", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", TZ, nullable=False, server_default=func.now()),
)

firm_terms = Table(
    "firm_terms",
    metadata,
    Column("firm_id", String(100), primary_key=True),
    Column("contract_version", Integer, nullable=False),
    Column("reporting_window_days", Integer, nullable=False),
    Column("changed_at", TZ, nullable=False),
)

forms = Table(
    "forms",
    metadata,
    Column("form_key", String(100), primary_key=True),
    Column("config", JSONB, nullable=False),
    Column("updated_at", TZ, nullable=False, server_default=func.now()),
)

webhook_sources = Table(
    "webhook_sources",
    metadata,
    Column("source", String(100), primary_key=True),
    Column("config", JSONB, nullable=False),
    Column("updated_at", TZ, nullable=False, server_default=func.now()),
)

webhook_receipts = Table(
    "webhook_receipts",
    metadata,
    Column("source", String(100), primary_key=True),
    Column("webhook_id", String(200), primary_key=True),
    Column("status", Integer, nullable=False),
    Column("response", JSONB, nullable=False),
    Column("received_at", TZ, nullable=False, server_default=func.now()),
)

activities = Table(
    "activities",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("firm_id", String(100), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("occurred_at", TZ, nullable=False),
    Column("logged_at", TZ, nullable=False),
    Column("contact_email", String(320), nullable=False),
    Column("email_domain", String(255), nullable=False),
    Column("lead_id", Uuid),
    Column("notes", Text),
    Column("raw", JSONB, nullable=False),
)

meetings = Table(
    "meetings",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("firm_id", String(100), nullable=False),
    Column("lead_id", Uuid),
    Column("contact_email", String(320), nullable=False),
    Column("email_domain", String(255), nullable=False),
    Column("status", String(40), nullable=False),
    Column("scheduled_for", TZ),
    Column("updated_at", TZ, nullable=False),
    Column("history", JSONB, nullable=False),
)

imports = Table(
    "imports",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("status", String(20), nullable=False),
    Column("source", String(100), nullable=False),
    Column("campaign", String(200)),
    Column("rows_total", Integer, nullable=False, server_default="0"),
    Column("rows_accepted", Integer, nullable=False, server_default="0"),
    Column("rows_duplicate", Integer, nullable=False, server_default="0"),
    Column("rows_rejected", Integer, nullable=False, server_default="0"),
    Column("detail", Text),
    Column("created_at", TZ, nullable=False, server_default=func.now()),
    Column("finished_at", TZ),
)

import_errors = Table(
    "import_errors",
    metadata,
    Column("import_id", Uuid, primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("field", String(100), primary_key=True),
    Column("reason", Text, nullable=False),
)
