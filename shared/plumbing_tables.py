"""The two tables every service schema has: the outbox and the processed-event log.

They are defined once here (SQLAlchemy Core, one ``Table`` per schema) and created by
each service's first migration through ``create_plumbing_tables``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from alembic import op
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
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.events.topics import BULK


@cache
def _metadata(schema: str) -> MetaData:
    return MetaData(schema=schema)


@cache
def outbox_table(schema: str) -> Table:
    return Table(
        "outbox",
        _metadata(schema),
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True), nullable=True),
        Index(f"ix_{schema}_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL")),
    )


@cache
def processed_events_table(schema: str) -> Table:
    return Table(
        "processed_events",
        _metadata(schema),
        Column("consumer", String(100), primary_key=True),
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("topic", String(200), nullable=False),
        Column("outcome", String(20), nullable=False),
        Column("error", Text, nullable=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


IN_BULK_LANE = f"(right(topic, {len(BULK)}) = '{BULK}')"
"""Whether an outbox row is for a bulk lane's topic (``shared.events.topics.BULK``): the
first column of the index each lane's relay reads its rows from."""


def lane_index_ddl(schema: str) -> str:
    """The unsent rows by lane, then id: each lane's relay reads its own rows straight from
    it, in id order, however many of the other lane's wait (created by each service's
    migration after the first)."""
    return (
        f"CREATE INDEX IF NOT EXISTS ix_{schema}_outbox_unsent_by_lane "
        f"ON {schema}.outbox ({IN_BULK_LANE}, id) WHERE sent_at IS NULL"
    )


def drop_lane_index_ddl(schema: str) -> str:
    return f"DROP INDEX IF EXISTS {schema}.ix_{schema}_outbox_unsent_by_lane"


def create_plumbing_tables(schema: str) -> None:
    """Used by each service's initial migration (inside Alembic's migration context)."""
    bind = op.get_bind()
    outbox_table(schema).create(bind)
    processed_events_table(schema).create(bind)


def drop_plumbing_tables(schema: str) -> None:
    bind = op.get_bind()
    processed_events_table(schema).drop(bind)
    outbox_table(schema).drop(bind)


_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class ProcessedSql:
    """The consumer's two statements on a schema's ``processed_events`` (asyncpg)."""

    claim: str  # (consumer, event ids[], topics[]) -> the ids not seen before
    dead_lettered: str  # (consumer, event id, topic, error)


@cache
def processed_sql(schema: str) -> ProcessedSql:
    if not _IDENTIFIER.match(schema):  # a service's own schema name, never input
        raise ValueError(f"not a schema name: {schema!r}")
    table = f"{schema}.processed_events"
    return ProcessedSql(
        claim=f"INSERT INTO {table} (consumer, event_id, topic, outcome) "  # noqa: S608
        "SELECT $1, e.id, e.topic, 'applied' FROM unnest($2::uuid[], $3::text[]) "
        "AS e(id, topic) ON CONFLICT DO NOTHING RETURNING event_id",
        dead_lettered=f"INSERT INTO {table} (consumer, event_id, topic, outcome, error) "  # noqa: S608
        "VALUES ($1, $2, $3, 'dead_lettered', $4) ON CONFLICT DO NOTHING",
    )


@cache
def outbox_insert_sql(schema: str) -> str:
    """Many rows into a schema's outbox in one statement: (event ids[], topics[], keys[],
    event types[], payloads[] (JSON text), headers[] (JSON text)). An event id already there
    is kept once (a notice with an id of its own, told again after a restart)."""
    if not _IDENTIFIER.match(schema):
        raise ValueError(f"not a schema name: {schema!r}")
    return (
        f"INSERT INTO {schema}.outbox (event_id, topic, key, event_type, payload, headers) "  # noqa: S608
        "SELECT r.event_id, r.topic, r.key, r.event_type, r.payload, r.headers "
        "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[]) "
        "WITH ORDINALITY AS r(event_id, topic, key, event_type, payload, headers, n) "
        "ORDER BY r.n ON CONFLICT (event_id) DO NOTHING"
    )
