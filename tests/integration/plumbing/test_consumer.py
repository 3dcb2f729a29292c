"""The idempotent consumer against real PostgreSQL and the real broker."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.consumer import EventConsumer, per_event, types_of
from shared.db import SessionFactory
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from shared.events.notices import EventDeadLettered
from shared.kafka import make_consumer, make_producer
from shared.outbox import Outbox
from tests.support.infra import Infra
from tests.support.kafka import read_raw


async def _topic(infra: Infra) -> str:
    name = f"consumer.{secrets.token_hex(3)}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1), NewTopic(f"{name}.dlq", 1, 1)])
    finally:
        await admin.close()
    return name


@pytest.fixture
async def producer(infra: Infra) -> AsyncIterator[AIOKafkaProducer]:
    producer = make_producer(infra.settings(), client_id="test")
    await producer.start()
    yield producer
    await producer.stop()


def lead_envelope(poison: bool = False) -> Envelope:
    event = LeadReceived(
        lead_id=uuid4(),
        received_at=datetime.now(UTC),
        channel="api",
        source="test",
        email="x@example.com",
        email_domain="poison.test" if poison else "example.com",
    )
    return event.envelope("/test")


async def run_consumer(
    infra: Infra,
    *,
    sessions: SessionFactory,
    schema: str,
    topic: str,
    handler: Callable[[AsyncSession, Envelope], Awaitable[None]],
    until: Callable[[], Awaitable[bool]],
    producer: AIOKafkaProducer,
    claims: bool = True,
) -> None:
    kafka = make_consumer(
        infra.settings(), topic, group_id=f"g-{topic}", client_id="test", max_records=50
    )
    await kafka.start()
    consumer = EventConsumer(
        name="test",
        topics=[topic],
        schema=schema,
        handle=per_event({LeadReceived.event_type: handler}),
        types=types_of({LeadReceived.event_type: handler}),
        sessions=sessions,
        consumer=kafka,
        dlq_producer=producer,
        max_attempts=2,
        outbox=Outbox(schema, source="/test"),
        claims=claims,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        for _ in range(300):
            if await until():
                return
            await asyncio.sleep(0.1)
        raise AssertionError("consumer did not reach the expected state")
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await kafka.stop()


async def applied(sessions: SessionFactory, schema: str) -> list[tuple[str, int]]:
    async with sessions() as session:
        rows = await session.execute(text(f'SELECT lead_id::text, n FROM "{schema}".applied'))
        return [(r[0], r[1]) for r in rows]


def counting_handler(schema: str) -> Callable[[AsyncSession, Envelope], Awaitable[None]]:
    async def handle(session: AsyncSession, envelope: Envelope) -> None:
        event = LeadReceived.from_envelope(envelope)
        if event.email_domain == "poison.test":
            raise ValueError("this lead can never be applied")
        await session.execute(
            text(f'INSERT INTO "{schema}".applied VALUES (:id, 1)'), {"id": event.lead_id}
        )

    return handle


async def test_the_same_event_delivered_twice_changes_state_once(
    infra: Infra, sessions: SessionFactory, scratch_schema: str, producer: AIOKafkaProducer
) -> None:
    topic = await _topic(infra)
    once, other = lead_envelope(), lead_envelope()
    for envelope in (once, once, other, once):
        await producer.send_and_wait(topic, envelope.to_bytes(), key=b"k")

    async def both_applied() -> bool:
        return len(await applied(sessions, scratch_schema)) >= 2

    await run_consumer(
        infra,
        sessions=sessions,
        schema=scratch_schema,
        topic=topic,
        handler=counting_handler(scratch_schema),
        until=both_applied,
        producer=producer,
    )
    await asyncio.sleep(0.5)  # would let a doubled application land
    rows = await applied(sessions, scratch_schema)
    assert sorted(r[0] for r in rows) == sorted(
        str(LeadReceived.from_envelope(e).lead_id) for e in (once, other)
    )


async def test_a_handler_that_keeps_events_once_by_id_gets_no_processed_rows(
    infra: Infra, sessions: SessionFactory, scratch_schema: str, producer: AIOKafkaProducer
) -> None:
    """Ops' kind of consumer (``claims`` off): its handler's own unique key keeps each event
    once, the consumer hands it each event of a batch once and writes no processed row."""
    topic = await _topic(infra)
    once, other = lead_envelope(), lead_envelope()
    for envelope in (once, once, other, once):
        await producer.send_and_wait(topic, envelope.to_bytes(), key=b"k")
    async with sessions() as session, session.begin():
        await session.execute(text(f'CREATE UNIQUE INDEX ON "{scratch_schema}".applied (lead_id)'))
    handed: list[str] = []

    async def keep_once(session: AsyncSession, envelope: Envelope) -> None:
        event = LeadReceived.from_envelope(envelope)
        handed.append(str(event.lead_id))
        await session.execute(
            text(f'INSERT INTO "{scratch_schema}".applied VALUES (:id, 1) ON CONFLICT DO NOTHING'),
            {"id": event.lead_id},
        )

    async def both_applied() -> bool:
        return len(await applied(sessions, scratch_schema)) >= 2

    await run_consumer(
        infra,
        sessions=sessions,
        schema=scratch_schema,
        topic=topic,
        handler=keep_once,
        until=both_applied,
        producer=producer,
        claims=False,
    )
    ids = sorted(str(LeadReceived.from_envelope(e).lead_id) for e in (once, other))
    assert sorted(r[0] for r in await applied(sessions, scratch_schema)) == ids
    assert set(handed) == set(ids)
    async with sessions() as session:
        processed = await session.scalar(
            text(f'SELECT count(*) FROM "{scratch_schema}".processed_events')
        )
    assert processed == 0


async def test_poison_messages_go_to_the_dlq_and_the_next_good_one_is_processed(
    infra: Infra, sessions: SessionFactory, scratch_schema: str, producer: AIOKafkaProducer
) -> None:
    topic = await _topic(infra)
    good = lead_envelope()
    await producer.send_and_wait(topic, b"{not json", key=b"k")
    await producer.send_and_wait(topic, lead_envelope(poison=True).to_bytes(), key=b"k")
    await producer.send_and_wait(topic, good.to_bytes(), key=b"k")

    async def good_applied() -> bool:
        return len(await applied(sessions, scratch_schema)) == 1

    await run_consumer(
        infra,
        sessions=sessions,
        schema=scratch_schema,
        topic=topic,
        handler=counting_handler(scratch_schema),
        until=good_applied,
        producer=producer,
    )
    assert (await applied(sessions, scratch_schema))[0][0] == str(
        LeadReceived.from_envelope(good).lead_id
    )
    dead = await read_raw(infra.bootstrap_servers, f"{topic}.dlq", 2)
    reasons = [headers["dlq.reason"] for _, headers in dead]
    assert reasons == [b"unparseable", b"handler_failed"]
    assert dead[0][0] == b"{not json"
    assert b"can never be applied" in dead[1][1]["dlq.error"]
    async with sessions() as session:
        outcome = await session.scalar(
            text(
                f'SELECT outcome FROM "{scratch_schema}".processed_events WHERE consumer = :c'
                " AND outcome = 'dead_lettered'"
            ),
            {"c": "test"},
        )
        told = (
            await session.execute(
                text(
                    f'SELECT event_id, topic, payload FROM "{scratch_schema}".outbox'
                    " WHERE event_type = :t ORDER BY id"
                ),
                {"t": EventDeadLettered.event_type},
            )
        ).all()
    assert outcome == "dead_lettered"
    # Ops is told of each, on ops.notices, under an id of its own per dead letter.
    notices = [EventDeadLettered.model_validate(row.payload["data"]) for row in told]
    assert [(n.reason, n.dead_event_type) for n in notices] == [
        ("unparseable", None),
        ("handler_failed", LeadReceived.event_type),
    ]
    assert {row.topic for row in told} == {"ops.notices"}
    assert [row.event_id for row in told] == [n.notice_id() for n in notices]
    assert "can never be applied" in notices[1].error
    assert notices[1].from_topic == topic


async def test_a_poison_message_inside_a_batch_spares_the_messages_around_it(
    infra: Infra, sessions: SessionFactory, scratch_schema: str, producer: AIOKafkaProducer
) -> None:
    topic = await _topic(infra)
    before = [lead_envelope() for _ in range(5)]
    after = [lead_envelope() for _ in range(5)]
    for envelope in [*before, lead_envelope(poison=True), *after]:
        await producer.send_and_wait(topic, envelope.to_bytes(), key=b"k")

    async def all_good_applied() -> bool:
        return len(await applied(sessions, scratch_schema)) >= 10

    await run_consumer(
        infra,
        sessions=sessions,
        schema=scratch_schema,
        topic=topic,
        handler=counting_handler(scratch_schema),
        until=all_good_applied,
        producer=producer,
    )
    ids = {row[0] for row in await applied(sessions, scratch_schema)}
    assert ids == {str(LeadReceived.from_envelope(e).lead_id) for e in before + after}
    dead = await read_raw(infra.bootstrap_servers, f"{topic}.dlq", 1)
    assert dead[0][1]["dlq.reason"] == b"handler_failed"
