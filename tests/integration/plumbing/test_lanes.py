"""Live ahead of bulk: a consumer of a topic and its bulk lane takes the live lane first, so
a live event posted while thousands of bulk ones wait is applied within a batch or two,
not after them (real broker, real PostgreSQL)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from uuid import UUID

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy.ext.asyncio import AsyncSession

from shared.consumer import EventConsumer, Incoming
from shared.db import SessionFactory
from shared.events.topics import BULK
from shared.kafka import make_consumer, make_producer
from tests.integration.plumbing.test_consumer import lead_envelope
from tests.support.infra import Infra


async def test_a_live_event_overtakes_a_bulk_backlog(
    infra: Infra, sessions: SessionFactory, scratch_schema: str
) -> None:
    live = f"lanes.{secrets.token_hex(3)}"
    bulk = f"{live}{BULK}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in (live, bulk, f"{live}.dlq")])
    finally:
        await admin.close()
    producer: AIOKafkaProducer = make_producer(infra.settings(), client_id="test")
    await producer.start()
    backlog = [lead_envelope() for _ in range(2000)]
    urgent = lead_envelope()
    try:
        for envelope in backlog:
            await producer.send(bulk, envelope.to_bytes(), key=b"k")
        await producer.flush()

        applied: list[UUID] = []
        started = asyncio.Event()

        async def handle(session: AsyncSession, batch: Sequence[Incoming]) -> None:
            started.set()
            await asyncio.sleep(0.05)  # a batch's work
            applied.extend(i.envelope.id for i in batch)

        kafka = make_consumer(
            infra.settings(),
            live,
            bulk,
            group_id=f"g-{live}",
            client_id="test",
            max_records=100,
        )
        await kafka.start()
        consumer = EventConsumer(
            name="lanes",
            topics=[live, bulk],
            schema=scratch_schema,
            handle=handle,
            types=None,
            sessions=sessions,
            consumer=kafka,
            dlq_producer=producer,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        try:
            await asyncio.wait_for(started.wait(), 60)  # the bulk lane is being worked off
            await producer.send_and_wait(live, urgent.to_bytes(), key=b"k")
            for _ in range(600):
                if urgent.id in applied:
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
            await kafka.stop()
    finally:
        await producer.stop()
    assert urgent.id in applied
    before = applied.index(urgent.id)
    # Applied after at most a few bulk batches of 100, with most of the backlog still
    # waiting (one consumer in arrival order would have applied all 2,000 first).
    assert before < 600, before
