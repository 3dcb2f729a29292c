"""Trace context and consumer metrics through the real outbox, relay, broker and consumer:
one lead's path is one trace, a stuck consumer shows its lag, a dead letter is counted."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession

from shared.consumer import EventConsumer, Handler, TransientError, per_event, types_of
from shared.db import SessionFactory, asyncpg_dsn
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from shared.kafka import make_consumer, make_producer
from shared.outbox import Outbox, Relay
from shared.tracing import tracer
from tests.support.infra import Infra
from tests.support.kafka import read_raw


async def new_topics(infra: Infra, count: int) -> list[str]:
    names = [f"obs.{secrets.token_hex(3)}" for _ in range(count)]
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, 1, 1) for n in names] + [NewTopic(f"{n}.dlq", 1, 1) for n in names]
        )
    finally:
        await admin.close()
    return names


@pytest.fixture
async def producer(infra: Infra) -> AsyncIterator[AIOKafkaProducer]:
    producer = make_producer(infra.settings(), client_id="test")
    await producer.start()
    yield producer
    await producer.stop()


def lead() -> Envelope:
    return LeadReceived(
        lead_id=uuid4(),
        received_at=datetime.now(UTC),
        channel="api",
        source="test",
        email="x@example.com",
        email_domain="example.com",
    ).envelope("/test")


async def consume_until(
    infra: Infra,
    *,
    name: str,
    topic: str,
    schema: str,
    sessions: SessionFactory,
    producer: AIOKafkaProducer,
    handler: Handler,
    until: Callable[[], Awaitable[bool]],
) -> None:
    kafka = make_consumer(infra.settings(), topic, group_id=name, client_id="test", max_records=50)
    await kafka.start()
    consumer = EventConsumer(
        name=name,
        topics=[topic],
        schema=schema,
        handle=per_event({LeadReceived.event_type: handler}),
        types=types_of({LeadReceived.event_type: handler}),
        sessions=sessions,
        consumer=kafka,
        dlq_producer=producer,
        max_attempts=1,
        lag_every_s=0,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        for _ in range(300):
            if await until():
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the consumer did not reach the expected state")
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await kafka.stop()


def trace_id(traceparent: bytes | str) -> str:
    text = traceparent.decode() if isinstance(traceparent, bytes) else traceparent
    return text.split("-")[1]


async def test_an_event_published_by_a_handler_stays_in_the_trace_of_the_request(
    infra: Infra, sessions: SessionFactory, scratch_schema: str, producer: AIOKafkaProducer
) -> None:
    received_topic, routed_topic = await new_topics(infra, 2)
    outbox = Outbox(scratch_schema, source="/test")
    relay = Relay(outbox, sessions, producer, dsn=asyncpg_dsn(infra.database_url))
    with tracer().start_as_current_span("POST /v1/leads") as request:
        request_trace = f"{request.get_span_context().trace_id:032x}"
        request_span = f"{request.get_span_context().span_id:016x}"
        async with sessions() as session, session.begin():
            await outbox.add_envelope(session, received_topic, lead())
    assert await relay.publish_pending() == 1

    async def route(session: AsyncSession, envelope: Envelope) -> None:
        await outbox.add_envelope(session, routed_topic, lead())  # the follow-up event

    async def follow_up_recorded() -> bool:
        async with sessions() as session:
            return await outbox.backlog(session) == 1

    await consume_until(
        infra,
        name=f"router-{received_topic}",
        topic=received_topic,
        schema=scratch_schema,
        sessions=sessions,
        producer=producer,
        handler=route,
        until=follow_up_recorded,
    )
    assert await relay.publish_pending() == 1

    [(first_value, first_headers)] = await read_raw(infra.bootstrap_servers, received_topic, 1)
    assert first_value is not None
    assert first_headers["traceparent"].decode().split("-")[1:3] == [request_trace, request_span]
    assert Envelope.from_bytes(first_value).traceparent == first_headers["traceparent"].decode()

    [(value, headers)] = await read_raw(infra.bootstrap_servers, routed_topic, 1)
    assert value is not None
    follow_up = Envelope.from_bytes(value)
    assert trace_id(headers["traceparent"]) == request_trace
    assert follow_up.traceparent == headers["traceparent"].decode()
    # published from the handler's own span, a child of the request's
    assert follow_up.traceparent.split("-")[2] != request_span


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_stuck_consumer_shows_its_lag_and_a_dead_letter_is_counted(
    infra: Infra, sessions: SessionFactory, scratch_schema: str, producer: AIOKafkaProducer
) -> None:
    [topic] = await new_topics(infra, 1)
    name = f"c-{topic}"
    for _ in range(3):
        await producer.send_and_wait(topic, lead().to_bytes(), key=b"k")
    database_down = True
    applied: set[UUID] = set()  # a set: a batch retried after a rollback applies again

    async def handle(session: AsyncSession, envelope: Envelope) -> None:
        if database_down:
            raise TransientError("retried forever, never dead-lettered")
        applied.add(envelope.id)

    async def lag_is(expected: int) -> bool:
        return metric("leadflow_consumer_lag", consumer=name, topic=topic) == expected

    async def consume(until: Callable[[], Awaitable[bool]]) -> None:
        await consume_until(
            infra,
            name=name,
            topic=topic,
            schema=scratch_schema,
            sessions=sessions,
            producer=producer,
            handler=handle,
            until=until,
        )

    await consume(lambda: lag_is(3))
    assert applied == set()

    database_down = False
    await producer.send_and_wait(topic, b"{not an event", key=b"k")
    before = metric("leadflow_dead_letters_total", consumer=name, topic=topic, reason="unparseable")

    async def drained() -> bool:
        return len(applied) == 3 and await lag_is(0)

    await consume(drained)
    after = metric("leadflow_dead_letters_total", consumer=name, topic=topic, reason="unparseable")
    assert after == before + 1
