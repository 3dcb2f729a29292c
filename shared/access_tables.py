"""The ``access`` schema: what every service shares about who may call it and what they
did — named credentials (ops credentials with scopes, firms' partner keys) and the audit
log of every admin write. Platform plumbing like the outbox, not business data: each
service reads the credentials on every call (cached under a second, so a revocation holds
everywhere at once) and writes its audit entries in the transaction of the write itself.

Tables only (SQLAlchemy Core), created by ``shared/access_migrations``."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

SCHEMA = "access"
metadata = MetaData(schema=SCHEMA)
TZ = DateTime(timezone=True)

credentials = Table(
    "credentials",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("firm_id", String(100)),  # set: a firm's partner key
    Column("scopes", ARRAY(Text), nullable=False),
    Column("token_sha256", String(64), nullable=False),
    Column("created_at", TZ, nullable=False, server_default=func.now()),
    Column("created_by", String(300), nullable=False),
    Column("revoked_at", TZ),
    Column("revoked_by", String(300)),
    Index("ix_access_credentials_firm", "firm_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("at", TZ, nullable=False, server_default=func.now()),
    Column("actor", String(300), nullable=False),
    Column("actor_key_id", String(16)),
    Column("service", String(20), nullable=False),
    Column("action", String(100), nullable=False),
    Column("entity_type", String(50), nullable=False),
    Column("entity_id", String(200), nullable=False),
    Column("lead_id", Uuid),
    Column("before", JSONB),
    Column("after", JSONB),
    Index("ix_access_audit_entity", "entity_type", "entity_id", "id"),
    Index("ix_access_audit_actor", "actor_key_id", "id"),
    Index("ix_access_audit_lead", "lead_id", postgresql_where=text("lead_id IS NOT NULL")),
)
