"""Ops' consumer: every event on every topic goes into the log once, whatever its type, a
poll's batch at a time (``recording.record_all``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.ops.recording import record_all
from shared.consumer import Incoming
from shared.events.topics import TOPICS

GROUP = "ops.events"
TOPIC_NAMES = [t.name for t in TOPICS]


async def keep_all(session: AsyncSession, batch: Sequence[Incoming]) -> None:
    await record_all(session, [(incoming.envelope, incoming.topic) for incoming in batch])
