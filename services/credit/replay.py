"""``leadflow credit replay``: rebuild credit's state from every fact on the topics, from
the start, into an emptied credit schema; the decisions and the ledger come out the same,
because a decision is a fold over a lead's facts as of its latest one.

Deadlines that passed since (a return window, a holding period) are then applied by the
review sweep as of the time each passed, as the live service's sweep did.

Kept: the contracts (credit's own configuration, set through its API) and the facts
credit itself recorded (ops' dispute resolutions, firms' disputes), which are not on any
topic. The outbox rows the replay writes are marked sent: it re-decides, it does not
re-announce.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text

from services.credit.app import FACT_TOPICS
from services.credit.consumer import TYPES, on_facts
from services.credit.service import redecide_all
from services.credit.store import SCHEMA
from services.credit.sweep import sweep_once
from shared.consumer import Incoming
from shared.db import make_engine, make_sessions
from shared.events.envelope import Envelope, utcnow
from shared.kafka import bootstrap_servers
from shared.outbox import Outbox
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


CHUNK = 2000  # facts per transaction


@dataclass(frozen=True)
class ReplayReport:
    events: int
    applied: int
    leads: int


async def read_all(settings: Settings, topics: list[str]) -> list[Envelope]:
    """Every parseable event on the topics, up to their current ends, in event-time order."""
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
        ends = await reader.end_offsets(partitions)
        wanted = [tp for tp in partitions if ends[tp] > 0]
        reader.assign(wanted)
        await reader.seek_to_beginning(*wanted)
        envelopes: list[Envelope] = []
        remaining = set(wanted)
        while remaining:
            batches = await reader.getmany(*remaining, timeout_ms=500)
            for tp, messages in batches.items():
                for message in messages:
                    try:
                        envelopes.append(Envelope.from_bytes(message.value or b""))
                    except ValueError:
                        continue  # the live consumer dead-lettered it too
                    if message.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        envelopes.sort(key=lambda e: (e.time, str(e.id)))
        return envelopes
    finally:
        await reader.stop()


async def replay(settings: Settings) -> ReplayReport:
    envelopes = await read_all(settings, [t.name for t in FACT_TOPICS])
    engine = make_engine(settings.database_url or "", pool_size=2)
    sessions = make_sessions(engine)
    outbox = Outbox(SCHEMA, source="/credit")
    wanted = [Incoming(e, "replay") for e in envelopes if e.type in TYPES]
    try:
        async with sessions() as session, session.begin():
            for table in _EMPTIED:
                await session.execute(text(f"TRUNCATE credit.{table}"))
            await session.execute(text("DELETE FROM credit.facts WHERE kind <> 'dispute'"))
        for start in range(0, len(wanted), CHUNK):  # in event-time order, a batch at a time
            async with sessions() as session, session.begin():
                await on_facts(session, wanted[start : start + CHUNK], outbox)
        async with sessions() as session, session.begin():
            leads = [
                row[0]
                for row in await session.execute(
                    text("SELECT DISTINCT lead_id FROM credit.facts WHERE kind = 'dispute'")
                )
            ]
            await redecide_all(session, outbox, leads)
        await sweep_once(sessions, outbox, now=utcnow())
        async with sessions() as session, session.begin():
            await session.execute(
                text("UPDATE credit.outbox SET sent_at = now() WHERE sent_at IS NULL")
            )
            count = await session.scalar(
                text("SELECT count(DISTINCT lead_id) FROM credit.credit_decisions")
            )
    finally:
        await engine.dispose()
    return ReplayReport(events=len(envelopes), applied=len(wanted), leads=int(count or 0))
