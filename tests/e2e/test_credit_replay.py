"""Replaying every event from the start into an empty credit database reproduces the same
decisions and ledger as the live service made (``leadflow credit replay``)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import asyncpg

from services.credit.replay import ReplayReport, replay
from shared.db import asyncpg_dsn
from tests.support.infra import fresh_database
from tests.support.stack import Stack

FINAL = """
SELECT d.lead_id::text, d.state, d.amount,
       (SELECT coalesce(sum(l.amount), 0) FROM credit.ledger l WHERE l.lead_id = d.lead_id)
FROM (SELECT DISTINCT ON (lead_id) * FROM credit.credit_decisions
      ORDER BY lead_id, revision DESC) d
"""


async def snapshot(url: str) -> dict[str, tuple[str, Decimal, Decimal]]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return {r[0]: (r[1], r[2], r[3]) for r in await conn.fetch(FINAL)}
    finally:
        await conn.close()


async def settled(url: str) -> dict[str, tuple[str, Decimal, Decimal]]:
    before = await snapshot(url)
    while True:
        await asyncio.sleep(3)
        after = await snapshot(url)
        if after == before:
            return after
        before = after


async def copy_own_facts(source: str, target: str) -> None:
    """What credit holds that is on no topic: contracts and ops'/firms' dispute facts."""
    src, dst = (
        await asyncpg.connect(asyncpg_dsn(source)),
        await asyncpg.connect(asyncpg_dsn(target)),
    )
    try:
        for query, insert in (
            (
                "SELECT firm_id, version, terms::text FROM credit.contracts",
                "INSERT INTO credit.contracts (firm_id, version, terms) VALUES ($1, $2, $3::jsonb)",
            ),
            (
                "SELECT event_id, lead_id, kind, occurred_at, email_domain, data::text"
                " FROM credit.facts WHERE kind = 'dispute'",
                "INSERT INTO credit.facts VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
            ),
        ):
            await dst.executemany(insert, [tuple(r) for r in await src.fetch(query)])
    finally:
        await src.close()
        await dst.close()


async def test_replay_reproduces_decisions_and_ledger(stack: Stack) -> None:
    live = await settled(stack.infra.database_url)
    assert live, "the earlier end-to-end tests left decisions to replay"

    def into_an_empty_database() -> tuple[ReplayReport, dict[str, tuple[str, Decimal, Decimal]]]:
        with fresh_database(stack.infra) as empty:  # runs its own event loops: a thread
            asyncio.run(copy_own_facts(stack.infra.database_url, empty))
            report = asyncio.run(replay(stack.infra.settings(database_url=empty)))
            return report, asyncio.run(snapshot(empty))

    report, replayed = await asyncio.to_thread(into_an_empty_database)
    assert report.applied > 0
    assert replayed == live
