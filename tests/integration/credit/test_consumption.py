"""Credit's consumer over the real broker: every fact delivered twice, and the whole topic
delivered again from the start (a rebalance's re-delivery), changes credit once; event
types credit has no handler for (such as the router's SLA events) are passed over."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import REGISTRY

from services.credit.consumer import TYPES, handler
from shared.consumer import EventConsumer
from shared.db import SessionFactory
from shared.events.envelope import Envelope
from shared.kafka import make_consumer, make_producer
from tests.integration.credit.conftest import (
    OUTBOX,
    current,
    ledger_of,
    new_firm,
    published,
)
from tests.support.infra import Infra

MONDAY = datetime(2026, 11, 2, 9, tzinfo=UTC)


@pytest.fixture
async def producer(infra: Infra) -> AsyncIterator[AIOKafkaProducer]:
    producer = make_producer(infra.settings(), client_id="test-credit")
    await producer.start()
    yield producer
    await producer.stop()


async def _topic(infra: Infra) -> str:
    name = f"credit-facts.{secrets.token_hex(3)}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 2, 1), NewTopic(f"{name}.dlq", 1, 1)])
    finally:
        await admin.close()
    return name


def _count(name: str, topic: str, outcome: str) -> float:
    labels = {"consumer": name, "topic": topic, "outcome": outcome}
    return REGISTRY.get_sample_value("leadflow_events_consumed_total", labels) or 0.0


async def _consume(  # noqa: PLR0917 - one run of the consumer under test
    infra: Infra,
    sessions: SessionFactory,
    producer: AIOKafkaProducer,
    name: str,
    topic: str,
    group: str,
    until_duplicates: float,
) -> None:
    kafka = make_consumer(infra.settings(), topic, group_id=group, client_id="test", max_records=50)
    await kafka.start()
    consumer = EventConsumer(
        name=name,
        topics=[topic],
        schema="credit",
        handle=handler(OUTBOX),
        types=TYPES,
        sessions=sessions,
        consumer=kafka,
        dlq_producer=producer,
        max_attempts=2,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        for _ in range(300):
            if _count(name, topic, "duplicate") >= until_duplicates:
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the consumer did not see every delivery")
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await kafka.stop()


async def test_facts_delivered_twice_and_again_from_the_start_change_credit_once(
    infra: Infra, sessions: SessionFactory, producer: AIOKafkaProducer
) -> None:
    firm = await new_firm(sessions, pays_for="both")
    received = firm.received(MONDAY)
    lead = UUID(received.data["lead_id"])
    meeting = uuid4()
    facts = [
        received,
        firm.routed(lead, MONDAY + timedelta(seconds=1)),
        firm.status(lead, "accepted", MONDAY + timedelta(hours=3)),
        firm.meeting(lead, meeting, "held", MONDAY + timedelta(days=1)),
    ]
    sla = facts[2].model_copy(update={"id": uuid4(), "type": "leadflow.lead.sla_breached.v1"})
    topic = await _topic(infra)
    deliveries: list[Envelope] = [*facts, sla, *reversed(facts)]  # each fact twice
    for envelope in deliveries:
        await producer.send_and_wait(topic, envelope.to_bytes(), key=str(lead).encode())
    name = f"credit.facts.{secrets.token_hex(3)}"

    await _consume(infra, sessions, producer, name, topic, f"{name}-1", len(facts))
    first = await current(sessions, lead)
    assert (first.state, first.amount) == ("credited", Decimal("500.00"))
    assert _count(name, topic, "applied") == len(facts)
    assert _count(name, topic, "ignored") == 1  # the SLA event: no handler, no harm
    assert _count(name, topic, "dead_lettered") == 0

    # the same consumer (same dedup scope) gets the whole topic again from the start
    await _consume(infra, sessions, producer, name, topic, f"{name}-2", 3 * len(facts))
    again = await current(sessions, lead)
    assert again.revision == first.revision
    assert _count(name, topic, "applied") == len(facts)
    assert sum(amount for _, amount in await ledger_of(sessions, lead)) == Decimal("500.00")
    assert [e["revision"] for e in await published(sessions, lead)] == list(
        range(1, first.revision + 1)
    )
