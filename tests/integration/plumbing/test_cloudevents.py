"""Every message on the topics is a CloudEvent under the Kafka protocol binding, as the
``cloudevents`` SDK reads it (it takes any ``ce_`` header for binary mode): events of
every registered type published through the real outbox relay to the real broker, and
their copies on the dead-letter topic."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka_event

from shared.db import SessionFactory, asyncpg_dsn
from shared.events import event_types
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from shared.kafka import make_producer
from shared.outbox import STRUCTURED_CONTENT_TYPE, Outbox, Relay
from tests.integration.plumbing.test_consumer import (
    applied,
    counting_handler,
    lead_envelope,
    run_consumer,
)
from tests.support.infra import Infra


async def _topics(infra: Infra, *names: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1) for name in names])
    finally:
        await admin.close()


async def _raw_messages(
    infra: Infra, topic: str, count: int
) -> list[tuple[bytes | None, bytes, dict[str, bytes]]]:
    """(key, value, headers) of the first ``count`` messages of a topic."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=infra.bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        found: list[tuple[bytes | None, bytes, dict[str, bytes]]] = []
        for _ in range(150):
            if len(found) >= count:
                break
            batches = await consumer.getmany(timeout_ms=200)
            for messages in batches.values():
                found += [(m.key, m.value or b"", dict(m.headers or [])) for m in messages]
        return found
    finally:
        await consumer.stop()


def _cloudevent(key: bytes | None, value: bytes, headers: dict[str, bytes]) -> BaseCloudEvent:
    return from_kafka_event(KafkaMessage(headers=headers, key=key, value=value))


def _same_event(event: BaseCloudEvent, envelope: Envelope) -> None:
    assert event.get_specversion() == "1.0"
    assert event.get_id() == str(envelope.id)
    assert event.get_type() == envelope.type
    assert event.get_source() == envelope.source
    assert event.get_subject() == envelope.subject
    assert event.get_time() == envelope.time
    assert event.get_datacontenttype() == "application/json"
    assert event.get_extension("partitionkey") == envelope.partitionkey
    assert event.get_data() == envelope.model_dump(mode="json")["data"]


def _every_type(source: str) -> list[Envelope]:
    """One envelope of each registered event type, shaped as ``Event.envelope`` shapes it
    (only the envelope's attributes and headers matter to the binding)."""
    real = LeadReceived(
        lead_id=uuid4(),
        received_at=datetime(2026, 11, 20, 15, tzinfo=UTC),
        channel="api",
        source="test",
        email="pat@initech.com",
        email_domain="initech.com",
    ).envelope(source)
    others = [
        Envelope(
            source=source,
            type=event_type,
            subject=f"thing/{n}",
            partitionkey=f"key-{n}",
            data={"n": n, "text": "Zürich"},
            traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            tracestate="vendor=1",
        )
        for n, event_type in enumerate(sorted(event_types()))
    ]
    return [real, *others]


async def test_every_relayed_message_is_a_structured_mode_cloudevent(
    infra: Infra, sessions: SessionFactory, scratch_schema: str
) -> None:
    topic = f"ce.{secrets.token_hex(3)}"
    await _topics(infra, topic)
    outbox = Outbox(scratch_schema, source="/test")
    envelopes = _every_type("/test")
    async with sessions() as session, session.begin():
        for envelope in envelopes:
            await outbox.add_envelope(
                session, topic, envelope, headers={"x-origin": "test", "ce_type": "stale"}
            )
    producer = make_producer(infra.settings(), client_id="test")
    await producer.start()
    try:
        relay = Relay(outbox, sessions, producer, dsn=asyncpg_dsn(infra.database_url))
        assert await relay.publish_pending() == len(envelopes)
    finally:
        await producer.stop()

    messages = await _raw_messages(infra, topic, len(envelopes))
    assert len(messages) == len(envelopes) == len(event_types()) + 1
    for (key, value, headers), envelope in zip(messages, envelopes, strict=True):
        assert headers["content-type"] == STRUCTURED_CONTENT_TYPE.encode()
        assert not [name for name in headers if name.lower().startswith("ce_")]
        assert headers["x-origin"] == b"test"  # a publisher's own header is kept
        _same_event(_cloudevent(key, value, headers), envelope)
        if envelope.traceparent:  # the trace context stays readable from headers alone
            assert headers["traceparent"] == envelope.traceparent.encode()


async def test_dead_lettered_events_stay_valid_cloudevents(
    infra: Infra, sessions: SessionFactory, scratch_schema: str
) -> None:
    """A poison event published as the relay publishes it, and one published with the
    partial ``ce_type``/``ce_id`` headers of before: both copies on the DLQ are read by
    the SDK as the same event. An unparseable message is copied as it was."""
    topic = f"ce.dlq.{secrets.token_hex(3)}"
    await _topics(infra, topic, f"{topic}.dlq")
    poison, stale, good = lead_envelope(poison=True), lead_envelope(poison=True), lead_envelope()
    producer = make_producer(infra.settings(), client_id="test")
    await producer.start()
    try:
        structured: Any = [("content-type", STRUCTURED_CONTENT_TYPE.encode())]
        partial: Any = [("ce_type", stale.type.encode()), ("ce_id", str(stale.id).encode())]
        for value, partition_key, headers in (
            (poison.to_bytes(), poison.partitionkey, structured),
            (stale.to_bytes(), stale.partitionkey, partial),
            (b"{not json", "k", partial),
            (good.to_bytes(), good.partitionkey, structured),
        ):
            await producer.send_and_wait(topic, value, key=partition_key.encode(), headers=headers)

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
    finally:
        await producer.stop()
    dead = await _raw_messages(infra, f"{topic}.dlq", 3)
    assert [headers["dlq.reason"] for _, _, headers in dead] == [
        b"handler_failed",
        b"handler_failed",
        b"unparseable",
    ]
    for (key, value, headers), envelope in zip(dead[:2], (poison, stale), strict=True):
        assert (key, value) == (envelope.partitionkey.encode(), envelope.to_bytes())
        assert headers["content-type"] == STRUCTURED_CONTENT_TYPE.encode()
        _same_event(_cloudevent(key, value, headers), envelope)
    _, unparseable, headers = dead[2]
    assert unparseable == b"{not json"
    assert headers["ce_type"] == stale.type.encode()  # copied, headers and all
