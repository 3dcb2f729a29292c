"""Ops' event handler: every event on every topic goes into the log once, whatever its
type (the catch-all handler)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ops import store
from shared.consumer import ANY_TYPE, Handler
from shared.events.base import event_types
from shared.events.envelope import Envelope
from shared.events.topics import TOPICS
from shared.plumbing_tables import processed_events_table

GROUP = "ops.events"
TOPIC_NAMES = [t.name for t in TOPICS]


async def _topic_of(session: AsyncSession, envelope: Envelope) -> str:
    """The topic an event came on: the catalog's for a known type; for a type this code
    does not know yet, the one the consumer recorded with the event id a moment ago."""
    model = event_types().get(envelope.type)
    if model is not None:
        return model.topic.name
    processed = processed_events_table(store.SCHEMA)
    topic = await session.scalar(
        select(processed.c.topic).where(
            processed.c.consumer == GROUP, processed.c.event_id == envelope.id
        )
    )
    return topic or "unknown"


async def keep(session: AsyncSession, envelope: Envelope) -> None:
    await store.record(session, envelope, await _topic_of(session, envelope))


HANDLERS: dict[str, Handler] = {ANY_TYPE: keep}
