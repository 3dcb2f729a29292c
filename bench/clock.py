"""When each lead's events first appear on topics, read live over the Kafka protocol as a
neighbouring service would (wall-clock times, comparable with the database's). One
consumer for all the topics watched: the embedded broker spends CPU on every fetch."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.events.envelope import Envelope


class TopicClock:
    """``seen[topic][lead id]``: when the lead's first event on the topic arrived (read
    from the end of each topic, from ``start()`` on)."""

    def __init__(self, bootstrap: str, *topics: str) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20
        )
        self.seen: dict[str, dict[str, float]] = {topic: {} for topic in topics}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        parts = [
            TopicPartition(topic, p)
            for topic in self.seen
            for p in self.consumer.partitions_for_topic(topic) or []
        ]
        self.consumer.assign(parts)
        await self.consumer.seek_to_end(*parts)
        for tp in parts:  # resolve the end offsets now, before any lead is sent
            await self.consumer.position(tp)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=100)
            now = time.time()
            for tp, messages in batches.items():
                seen = self.seen[tp.topic]
                for message in messages:
                    lead_id = Envelope.from_bytes(message.value or b"{}").data["lead_id"]
                    seen.setdefault(lead_id, now)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self.consumer.stop()
