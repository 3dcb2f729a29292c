"""Transactional outbox: events are written in the same transaction as the state change,
and a relay publishes them to Kafka in order, then marks them sent.

The relay
- claims unsent rows with ``FOR UPDATE SKIP LOCKED`` (never ``id > last_id``, which skips
  rows whose transaction commits late) under a transaction-scoped advisory lock, so one
  relay per schema publishes at a time and the order of a key is kept across instances;
- sleeps on PostgreSQL LISTEN/NOTIFY when idle (NOTIFY is only a wake-up hint; a slow
  safety sweep covers notifications lost while disconnected);
- on a broker or database outage keeps the rows, backs off, and resumes from the first
  unsent row, so nothing is lost or reordered (a row may be sent twice; consumers are
  idempotent by event id).

Messages are CloudEvents in the structured content mode of the Kafka protocol binding:
the value is the whole event (JSON format) and the ``content-type`` header says so
(``message_headers``). An event carries the trace context it was added in (envelope
``traceparent``/``tracestate``, also sent as Kafka headers): see ``shared.tracing``.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import SessionFactory
from shared.events.base import Event
from shared.events.envelope import Envelope
from shared.observability import OUTBOX_ERRORS, OUTBOX_PUBLISHED, get_logger
from shared.plumbing_tables import outbox_table
from shared.tracing import kafka_headers, with_trace_context

log = get_logger(__name__)

STRUCTURED_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"


def is_binding_header(name: str) -> bool:
    """A header the CloudEvents Kafka binding reads: ``content-type`` picks the mode, and
    any ``ce_`` header makes a reader take the message for binary mode (the ``cloudevents``
    SDK does), where every attribute must be a header."""
    lowered = name.lower()
    return lowered == "content-type" or lowered.startswith("ce_")


def message_headers(
    envelope: Envelope, extra: Mapping[str, object] | None = None
) -> list[tuple[str, bytes]]:
    """The Kafka headers an event is published with: structured mode's content type, the
    trace context (for clients that read only headers), then ``extra`` less anything that
    would contradict the mode."""
    headers = [("content-type", STRUCTURED_CONTENT_TYPE.encode()), *kafka_headers(envelope)]
    headers += [(k, str(v).encode()) for k, v in (extra or {}).items() if not is_binding_header(k)]
    return headers


class Outbox:
    """A service's outbox: ``add`` inside the caller's transaction; ``Relay`` publishes."""

    def __init__(self, schema: str, source: str) -> None:
        self.schema = schema
        self.source = source
        self.table = outbox_table(schema)
        self.channel = f"{schema}_outbox"
        self.lock_key = zlib.crc32(f"leadflow.outbox.{schema}".encode())

    async def add(
        self, session: AsyncSession, event: Event, *, headers: dict[str, str] | None = None
    ) -> Envelope:
        return await self.add_envelope(
            session, event.topic.name, event.envelope(self.source), headers=headers
        )

    async def add_envelope(
        self,
        session: AsyncSession,
        topic: str,
        envelope: Envelope,
        *,
        headers: dict[str, str] | None = None,
    ) -> Envelope:
        """Record the envelope, stamped with the current trace context (the request or the
        handler that causes it), and return it as recorded."""
        envelope = with_trace_context(envelope)
        await session.execute(
            insert(self.table).values(
                event_id=envelope.id,
                topic=topic,
                key=envelope.partitionkey,
                event_type=envelope.type,
                payload=envelope.model_dump(mode="json"),
                headers=headers or {},
            )
        )
        # Delivered at commit, and only if the transaction commits.
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": self.channel})
        return envelope

    async def backlog(self, session: AsyncSession) -> int:
        """Unsent rows (cheap: the partial index holds only those)."""
        count = await session.scalar(
            select(func.count()).select_from(self.table).where(self.table.c.sent_at.is_(None))
        )
        return int(count or 0)

    async def oldest_unsent_age_s(self, session: AsyncSession) -> float:
        """How long the oldest unsent row has waited, 0 when none (one partial-index probe)."""
        table = self.table
        age = await session.scalar(
            select(func.extract("epoch", func.now() - table.c.created_at))
            .where(table.c.sent_at.is_(None))
            .order_by(table.c.id)
            .limit(1)
        )
        return max(0.0, float(age or 0))


class Relay:
    def __init__(
        self,
        outbox: Outbox,
        sessions: SessionFactory,
        producer: AIOKafkaProducer,
        *,
        dsn: str,
        batch_size: int = 500,
        idle_wakeup_s: float = 15.0,
        send_timeout_s: float = 30.0,
        linger_s: float = 0.005,
    ) -> None:
        self.outbox = outbox
        self.sessions = sessions
        self.producer = producer
        self.dsn = dsn
        self.batch_size = batch_size
        self.idle_wakeup_s = idle_wakeup_s
        self.send_timeout_s = send_timeout_s
        self.linger_s = linger_s
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None

    async def publish_pending(self) -> int:
        """Publish one batch of unsent rows, in id order. Returns how many were sent."""
        table = self.outbox.table
        async with self.sessions() as session, session.begin():
            leader = await session.scalar(
                select(func.pg_try_advisory_xact_lock(self.outbox.lock_key))
            )
            if not leader:
                return 0
            rows: Sequence[Any] = (
                await session.execute(
                    select(table.c.id, table.c.topic, table.c.key, table.c.payload, table.c.headers)
                    .where(table.c.sent_at.is_(None))
                    .order_by(table.c.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            deliveries = []
            for row in rows:
                envelope = Envelope.model_validate(row.payload)
                deliveries.append(
                    await self.producer.send(
                        row.topic,
                        envelope.to_bytes(),
                        key=row.key.encode(),
                        headers=message_headers(envelope, row.headers),
                    )
                )
            await asyncio.wait_for(asyncio.gather(*deliveries), self.send_timeout_s)
            await session.execute(
                update(table).where(table.c.id.in_([r.id for r in rows])).values(sent_at=func.now())
            )
        for row in rows:
            OUTBOX_PUBLISHED.labels(self.outbox.schema, row.topic).inc()
        return len(rows)

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            self._wake.clear()  # a NOTIFY from here on wakes the next sleep at once
            try:
                await self._ensure_listener()
                sent = await self.publish_pending()
                backoff = 0.5
                if sent >= self.batch_size:
                    continue
                await self._sleep_until_woken(stop, self.idle_wakeup_s)
                # Let a burst of commits land so that one pass publishes them together.
                await asyncio.sleep(self.linger_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database outage: keep rows, back off, retry
                OUTBOX_ERRORS.labels(self.outbox.schema).inc()
                log.warning(
                    "outbox_relay_retry",
                    schema=self.outbox.schema,
                    error=repr(exc),
                    backoff_s=backoff,
                )
                await self._close_listener()
                await self._sleep_until_woken(stop, backoff)
                backoff = min(backoff * 2, 10.0)
        await self._close_listener()

    async def _sleep_until_woken(self, stop: asyncio.Event, seconds: float) -> None:
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = await asyncpg.connect(self.dsn, timeout=10)
        await self._listener.add_listener(self.outbox.channel, self._on_notify)
        self._wake.set()  # anything written while we were not listening is swept now

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _close_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._listener.close(), 5)
            self._listener = None
