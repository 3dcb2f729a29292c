"""A scratch schema with the plumbing tables and a tiny state table, per test."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from shared.db import SessionFactory
from shared.plumbing_tables import lane_index_ddl, outbox_table, processed_events_table


@pytest.fixture
async def scratch_schema(sessions: SessionFactory) -> AsyncIterator[str]:
    schema = f"t_{secrets.token_hex(4)}"
    async with sessions() as session, session.begin():
        await session.execute(text(f'CREATE SCHEMA "{schema}"'))
        conn = await session.connection()
        await conn.run_sync(lambda c: outbox_table(schema).create(c))
        await conn.run_sync(lambda c: processed_events_table(schema).create(c))
        await session.execute(text(lane_index_ddl(schema)))
        await session.execute(text(f'CREATE TABLE "{schema}".applied (lead_id uuid, n int)'))
    yield schema
    async with sessions() as session, session.begin():
        await session.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
