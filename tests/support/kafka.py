"""Reading topics in tests, over the Kafka protocol, without joining a consumer group."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.events.envelope import Envelope


async def read_until(
    bootstrap_servers: str,
    topic: str,
    done: Callable[[list[Envelope]], bool],
    *,
    timeout_s: float = 30,
) -> list[Envelope]:
    """Read ``topic`` from the beginning until ``done(envelopes)`` or the timeout."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, fetch_max_wait_ms=50
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        deadline = time.monotonic() + timeout_s
        while not partitions and time.monotonic() < deadline:
            await consumer.topics()  # refreshes the metadata
            partitions = consumer.partitions_for_topic(topic)
            await asyncio.sleep(0.1)
        assignment = [TopicPartition(topic, p) for p in sorted(partitions or [])]
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        seen: list[Envelope] = []
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for messages in batches.values():
                seen += [Envelope.from_bytes(m.value) for m in messages if m.value]
            if done(seen):
                return seen
        return seen
    finally:
        await consumer.stop()


async def read_raw(
    bootstrap_servers: str, topic: str, count: int, *, timeout_s: float = 30
) -> list[tuple[bytes | None, dict[str, bytes]]]:
    """The first ``count`` raw messages (value, headers) of a topic, e.g. a DLQ."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        found: list[tuple[bytes | None, dict[str, bytes]]] = []
        deadline = time.monotonic() + timeout_s
        while len(found) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for messages in batches.values():
                found += [(m.value, dict(m.headers or [])) for m in messages]
        return found
    finally:
        await consumer.stop()
