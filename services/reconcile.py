"""``leadflow reconcile``: prove from the databases and the topics that nothing was lost
or doubled — every accepted lead has exactly one current routing decision and a credit
decision on it, no decision was applied twice, the outboxes are drained and no consumer
group lags. Prints what it checked and exits non-zero on any mismatch.

It reads every service's schema: it is an operator's audit, not a service.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import make_engine
from shared.kafka import bootstrap_servers
from shared.settings import Settings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    found: str


# Each query returns one number: the count of things that are wrong.
_DATABASE_CHECKS: list[tuple[str, str]] = [
    (
        "accepted leads without a routing decision",
        "SELECT count(*) FROM intake.leads l WHERE NOT EXISTS"
        " (SELECT 1 FROM router.routing_decisions r WHERE r.lead_id = l.id)",
    ),
    (
        "routing decisions for leads intake never accepted",
        "SELECT count(DISTINCT r.lead_id) FROM router.routing_decisions r WHERE NOT EXISTS"
        " (SELECT 1 FROM intake.leads l WHERE l.id = r.lead_id)",
    ),
    (
        "leads whose routing revisions are not 1..n (doubled or skipped)",
        "SELECT count(*) FROM (SELECT lead_id FROM router.routing_decisions GROUP BY lead_id"
        " HAVING max(revision) <> count(*) OR min(revision) <> 1) gaps",
    ),
    (
        "routed leads without a credit decision on their current routing",
        "SELECT count(*) FROM (SELECT lead_id, max(revision) AS rev FROM"
        " router.routing_decisions GROUP BY lead_id) r WHERE NOT EXISTS"
        " (SELECT 1 FROM credit.credit_decisions c WHERE c.lead_id = r.lead_id"
        " AND c.routing_revision = r.rev)",
    ),
    (
        "credit revisions that repeat the one before (a doubled decision)",
        "SELECT count(*) FROM (SELECT state, amount, routing_revision, event->'reasons' AS r,"
        " lag(state) OVER w AS p_state, lag(amount) OVER w AS p_amount,"
        " lag(routing_revision) OVER w AS p_rr, lag(event->'reasons') OVER w AS p_r"
        " FROM credit.credit_decisions WINDOW w AS (PARTITION BY lead_id ORDER BY revision)) x"
        " WHERE state = p_state AND amount = p_amount AND routing_revision = p_rr AND r = p_r",
    ),
    (
        "leads whose credit revisions are not 1..n",
        "SELECT count(*) FROM (SELECT lead_id FROM credit.credit_decisions GROUP BY lead_id"
        " HAVING max(revision) <> count(*) OR min(revision) <> 1) gaps",
    ),
    (
        "leads whose ledger total differs from their current credited amount",
        "SELECT count(*) FROM (SELECT DISTINCT ON (lead_id) lead_id, amount FROM"
        " credit.credit_decisions ORDER BY lead_id, revision DESC) d WHERE d.amount <>"
        " (SELECT coalesce(sum(l.amount), 0) FROM credit.ledger l WHERE l.lead_id = d.lead_id)",
    ),
    (
        "unsent events in intake's outbox",
        "SELECT count(*) FROM intake.outbox WHERE sent_at IS NULL",
    ),
    (
        "unsent events in router's outbox",
        "SELECT count(*) FROM router.outbox WHERE sent_at IS NULL",
    ),
    (
        "unsent events in credit's outbox",
        "SELECT count(*) FROM credit.outbox WHERE sent_at IS NULL",
    ),
    (
        "leads a touch queued for credit review, not yet re-decided",
        "SELECT count(*) FROM credit.review_queue",
    ),
]

_COUNTS: list[tuple[str, str]] = [
    ("accepted leads", "SELECT count(*) FROM intake.leads"),
    ("routing decisions", "SELECT count(*) FROM router.routing_decisions"),
    ("credit decisions", "SELECT count(*) FROM credit.credit_decisions"),
    ("ledger entries", "SELECT count(*) FROM credit.ledger"),
    (
        "events applied (all consumers)",
        "SELECT (SELECT count(*) FROM router.processed_events)"
        " + (SELECT count(*) FROM credit.processed_events)",
    ),
]


async def _database_checks(engine: AsyncEngine) -> tuple[list[Check], list[tuple[str, int]]]:
    checks: list[Check] = []
    counts: list[tuple[str, int]] = []
    async with engine.connect() as conn:
        for name, query in _DATABASE_CHECKS:
            wrong = int((await conn.execute(text(query))).scalar_one())
            checks.append(Check(name, wrong == 0, str(wrong)))
        for name, query in _COUNTS:
            counts.append((name, int((await conn.execute(text(query))).scalar_one())))
    return checks, counts


async def consumer_lag(settings: Settings) -> dict[str, int]:
    """Per consumer group: messages on its topics not yet committed as processed.

    Committed offsets are read through a group member that never joins (OffsetFetch),
    which every Kafka-protocol broker answers alike. A topic belongs to a group when the
    group has committed on any of its partitions."""
    servers = bootstrap_servers(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=servers, client_id="leadflow-reconcile")
    await admin.start()
    try:
        groups = sorted(g[0] for g in await admin.list_consumer_groups())
    finally:
        await admin.close()
    lags: dict[str, int] = {}
    for group in groups:
        reader = AIOKafkaConsumer(
            bootstrap_servers=servers,
            group_id=group,
            enable_auto_commit=False,
            client_id="leadflow-reconcile",
        )
        await reader.start()
        try:
            for topic in sorted(await reader.topics()):
                partitions = [TopicPartition(topic, p) for p in await _partitions(reader, topic)]
                committed = {tp: await reader.committed(tp) for tp in partitions}
                if all(offset is None for offset in committed.values()):
                    continue  # not a topic this group reads
                ends = await reader.end_offsets(partitions)
                # Clamped per partition: the embedded broker's ListOffsets answer can trail
                # offsets already committed (seen after a broker freeze); never negative lag.
                lag = sum(max(0, ends[tp] - (committed[tp] or 0)) for tp in partitions)
                lags[group] = lags.get(group, 0) + lag
        finally:
            await reader.stop()
    return lags


async def _partitions(reader: AIOKafkaConsumer, topic: str) -> set[int]:
    partitions: set[int] = reader.partitions_for_topic(topic) or set()  # topics() loaded them
    return partitions


async def reconcile(settings: Settings) -> tuple[list[Check], list[tuple[str, int]]]:
    engine = make_engine(settings.database_url or "", pool_size=1)
    try:
        checks, counts = await _database_checks(engine)
    finally:
        await engine.dispose()
    lags = await consumer_lag(settings)
    checks += [Check(f"consumer lag of {group}", lag == 0, str(lag)) for group, lag in lags.items()]
    if not lags:
        checks.append(Check("consumer groups found", False, "none"))
    return checks, counts


def reconcile_until_settled(
    settings: Settings, timeout_s: float = 120
) -> tuple[list[Check], list[tuple[str, int]]]:
    """Reconcile, re-checking while the system is still draining, up to ``timeout_s``."""

    async def settle() -> tuple[list[Check], list[tuple[str, int]]]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            checks, counts = await reconcile(settings)
            if all(c.ok for c in checks) or loop.time() > deadline:
                return checks, counts
            await asyncio.sleep(2)

    return asyncio.run(settle())
