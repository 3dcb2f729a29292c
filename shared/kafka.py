"""Kafka client construction with at-least-once settings made explicit.

aiokafka's defaults are not at-least-once (auto-commit on, offset reset "latest",
acks=1), so every client is built here, and nowhere else, with the settings spelled out.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.events.topics import TOPICS, dlq_topic
from shared.observability import get_logger
from shared.settings import Settings

log = get_logger(__name__)


def bootstrap_servers(settings: Settings) -> str:
    if not settings.kafka_bootstrap_servers:
        raise RuntimeError("KAFKA_BOOTSTRAP_SERVERS is not set (leadflow up sets it when embedded)")
    return settings.kafka_bootstrap_servers


def make_producer(settings: Settings, *, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers(settings),
        client_id=f"{settings.kafka_client_id}-{client_id}",
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        linger_ms=2,
        request_timeout_ms=int(settings.kafka_request_timeout_s * 1000),
        retry_backoff_ms=200,
    )


def make_consumer(
    settings: Settings, *topics: str, group_id: str, client_id: str, max_records: int
) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers(settings),
        client_id=f"{settings.kafka_client_id}-{client_id}",
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=max_records,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        max_poll_interval_ms=300_000,
        # A SIGKILLed member holds its partitions until the session times out: keep it short.
        session_timeout_ms=10_000,
        heartbeat_interval_ms=2_000,
        rebalance_timeout_ms=20_000,
        request_timeout_ms=int(settings.kafka_request_timeout_s * 1000) + 30_000,
    )


async def stop_within(client: AIOKafkaProducer | AIOKafkaConsumer, timeout_s: float) -> None:
    """Stop a client without hanging when the broker is gone (aiokafka #1101)."""
    try:
        await asyncio.wait_for(client.stop(), timeout_s)
    except TimeoutError:
        log.warning("kafka_client_stop_timed_out", timeout_s=timeout_s)


async def ensure_topics(settings: Settings) -> list[str]:
    """Create every catalog topic and its dead-letter topic; existing ones are left alone."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers(settings), client_id="leadflow-admin"
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        most = settings.kafka_topic_partitions or max(t.partitions for t in TOPICS)
        wanted = [NewTopic(t.name, min(t.partitions, most), 1) for t in TOPICS]
        wanted += [NewTopic(dlq_topic(t.name), 1, 1) for t in TOPICS]
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            # another process may create them between list and create
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()
