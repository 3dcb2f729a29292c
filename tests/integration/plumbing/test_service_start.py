"""What a service and its topics are set up with before the first event: the topics'
partition count follows ``KAFKA_TOPIC_PARTITIONS`` (the embedded broker's 2, a topic with
fewer in the catalog keeping its own), and a service fills its pure caches in its
lifespan, before it takes requests or events. Real PostgreSQL and broker."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient

from shared.embedded import embedded_broker_settings
from shared.events.topics import TOPICS
from shared.kafka import ensure_topics
from shared.service import create_service
from tests.support.infra import Infra


async def test_topics_are_created_with_the_configured_partitions(infra: Infra) -> None:
    settings = infra.settings()
    assert settings.kafka_topic_partitions == int(
        embedded_broker_settings()["kafka_topic_partitions"]
    )
    await ensure_topics(settings)  # already there: left alone
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([t.name for t in TOPICS])
    finally:
        await admin.close()
    partitions = {d["topic"]: len(d["partitions"]) for d in described}
    assert partitions == {t.name: min(t.partitions, 2) for t in TOPICS}
    assert partitions["firms.contracts"] == 1


async def test_a_service_fills_its_caches_before_it_serves(infra: Infra) -> None:
    filled: list[str] = []
    app = create_service(
        name="warmtest",
        schema="intake",
        title="warm test",
        description="",
        routers=[],
        warm=(lambda: filled.append("suffixes"), lambda: filled.append("holidays")),
        settings=infra.settings(),
    )
    assert filled == []  # building the app loads nothing
    async with app.router.lifespan_context(app):
        assert filled == ["suffixes", "holidays"]
