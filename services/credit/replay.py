"""``leadflow credit replay``: rebuild credit's state from every fact on the topics, from
the start, into an emptied credit schema; the decisions and the ledger come out the same,
because a decision is a fold over a lead's facts as of its latest one.

In bounded memory, whatever the history's length: the topics are read to their current
ends a poll at a time into a temporary table of the replay's own connection (binary COPY:
each event's time, id and raw bytes), then read back in event-time order through a
server-side cursor and applied a chunk at a time (``CHUNK`` facts per transaction), through
the consumer's own batch path. Deadlines that passed since (a return window, a holding
period) are then applied by the review sweep as of the time each passed, as the live
service's sweep did.

Kept: the contracts (credit's own configuration, set through its API) and the facts
credit itself recorded (ops' dispute resolutions, firms' disputes), which are not on any
topic. The replay re-decides, it does not re-announce: it writes no outbox rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic_core import from_json
from sqlalchemy import text

from services.credit.app import FACT_TOPICS
from services.credit.consumer import TYPES, on_facts
from services.credit.service import redecide_all
from services.credit.sweep import sweep_once
from shared.consumer import Incoming
from shared.db import SessionFactory, asyncpg_dsn, make_engine, make_sessions
from shared.events.envelope import Envelope, utcnow
from shared.kafka import bootstrap_servers
from shared.settings import Settings

_EMPTIED = (
    "touches",
    "review_queue",
    "claims",
    "meeting_places",
    "ledger",
    "credit_decisions",
    "processed_events",
)


_ANALYZED = ("facts", "touches", "claims", "meeting_places", "ledger", "credit_decisions")

CHUNK = 2000  # facts per transaction
END_ROUNDS = 5  # times the topics' ends are asked for (``read_topics``)


@dataclass(frozen=True)
class ReplayReport:
    events: int  # on the topics, with an id, a type and a time
    applied: int  # of those, the facts credit decides on
    leads: int  # decided


async def read_topics(settings: Settings, topics: list[str]) -> AsyncIterator[list[bytes]]:
    """Every message on the topics up to their ends, a poll's values at a time (partition
    by partition in offset order; across partitions in no order). Once every partition
    is read to its end, the ends are asked for again (a broker may report an end behind
    its last acknowledged write), until none has moved — at most ``END_ROUNDS`` times, so
    topics still being written to (intake and the router may run during a replay) do
    not keep it reading: what comes after is left to credit's own consumer, whose
    committed offsets are behind it."""
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(settings),
        enable_auto_commit=False,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        client_id="leadflow-replay",
    )
    await reader.start()
    try:
        await reader.topics()
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(reader.partitions_for_topic(topic) or [])
        ]
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        for _ in range(END_ROUNDS):
            ends = await reader.end_offsets(partitions)
            remaining = {tp for tp in partitions if await reader.position(tp) < ends[tp]}
            if not remaining:
                return
            reader.resume(*remaining)
            while remaining:
                batches = await reader.getmany(*remaining, timeout_ms=500)
                for messages in batches.values():
                    yield [m.value or b"" for m in messages]
                for tp in list(remaining):  # by position: a partition may end in a gap
                    if await reader.position(tp) >= ends[tp]:
                        remaining.discard(tp)
                        reader.pause(tp)
    finally:
        await reader.stop()


def _staged(raw: bytes) -> tuple[datetime, UUID, str] | None:
    """An event's time, id and type, read without validating the rest (the replay parses
    the whole event when it applies it); None if it has none."""
    try:
        event = from_json(raw)
        return datetime.fromisoformat(event["time"]), UUID(event["id"]), event["type"]
    except (ValueError, KeyError, TypeError):
        return None  # the live consumer dead-lettered it too


async def stage(settings: Settings, conn: asyncpg.Connection) -> int:
    """The fact topics into the connection's temporary table, a poll at a time; how many
    events they held."""
    await conn.execute(
        "CREATE TEMP TABLE replay_events (time timestamptz NOT NULL, id uuid NOT NULL, "
        "body bytea NOT NULL)"
    )
    events = 0
    async for values in read_topics(settings, [t.name for t in FACT_TOPICS]):
        rows = []
        for raw in values:
            found = _staged(raw)
            if found is not None:
                events += 1
                if found[2] in TYPES:
                    rows.append((found[0], found[1], raw))
        if rows:
            await conn.copy_records_to_table(
                "replay_events", records=rows, columns=["time", "id", "body"]
            )
    return events


async def staged_in_event_time(conn: asyncpg.Connection) -> AsyncIterator[list[Incoming]]:
    """The staged facts in event-time order (time, then id), ``CHUNK`` at a time; those
    that do not parse are left out, as the live consumer dead-lettered them."""
    async with conn.transaction(readonly=True):
        chunk: list[Incoming] = []
        async for (raw,) in conn.cursor(
            "SELECT body FROM replay_events ORDER BY time, id", prefetch=CHUNK
        ):
            try:
                chunk.append(Incoming(Envelope.from_bytes(raw), "replay"))
            except ValueError:
                continue
            if len(chunk) == CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


async def _analyze(sessions: SessionFactory) -> None:
    """Fresh planner statistics for the tables the replay fills: emptied, they look empty
    to the planner, which then scans a whole table for each chunk's leads."""
    async with sessions() as session, session.begin():
        for table in _ANALYZED:
            await session.execute(text(f"ANALYZE credit.{table}"))


async def _empty(sessions: SessionFactory) -> None:
    async with sessions() as session, session.begin():
        for table in _EMPTIED:
            await session.execute(text(f"TRUNCATE credit.{table}"))
        await session.execute(text("DELETE FROM credit.facts WHERE kind <> 'dispute'"))


async def replay(settings: Settings) -> ReplayReport:
    staging = await asyncpg.connect(asyncpg_dsn(settings.database_url or ""))
    engine = make_engine(settings.database_url or "", pool_size=2)
    sessions = make_sessions(engine)
    applied = 0
    try:
        events = await stage(settings, staging)
        await _empty(sessions)
        chunks = 0
        async for chunk in staged_in_event_time(staging):
            async with sessions() as session, session.begin():
                await on_facts(session, chunk, None)
            applied, chunks = applied + len(chunk), chunks + 1
            if chunks & (chunks - 1) == 0:  # after chunks 1, 2, 4, 8, ...: as the tables grow
                await _analyze(sessions)
        async with sessions() as session, session.begin():
            leads = [
                row[0]
                for row in await session.execute(
                    text("SELECT DISTINCT lead_id FROM credit.facts WHERE kind = 'dispute'")
                )
            ]
        for start in range(0, len(leads), CHUNK):
            async with sessions() as session, session.begin():
                await redecide_all(session, None, leads[start : start + CHUNK])
        await sweep_once(sessions, None, now=utcnow())
        async with sessions() as session:
            count = await session.scalar(
                text("SELECT count(DISTINCT lead_id) FROM credit.credit_decisions")
            )
    finally:
        await staging.close()
        await engine.dispose()
    return ReplayReport(events=events, applied=applied, leads=int(count or 0))
