"""Transactional outbox: events are written in the same transaction as the state change,
and a relay publishes them to Kafka in order, then marks them sent.

The relay
- claims unsent rows with ``FOR UPDATE SKIP LOCKED`` (never ``id > last_id``, which skips
  rows whose transaction commits late) under a transaction-scoped advisory lock, so one
  relay per schema and lane publishes at a time and the order of a key is kept across
  instances;
- runs once per lane: the live lane's relay never waits for a bulk batch in flight (a bulk
  import's thousands of rows go out beside the live events, not ahead of them);
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
import json
import zlib
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import asyncpg
from aiokafka import AIOKafkaProducer
from pydantic_core import to_json
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import SessionFactory, driver_connection
from shared.events.base import Event
from shared.events.envelope import Envelope
from shared.observability import OUTBOX_ERRORS, OUTBOX_PUBLISHED, get_logger
from shared.plumbing_tables import IN_BULK_LANE, outbox_insert_sql, outbox_table
from shared.tracing import TRACE_HEADERS, current_trace_context, kafka_headers, stamped

log = get_logger(__name__)

STRUCTURED_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"


def is_binding_header(name: str) -> bool:
    """A header the CloudEvents Kafka binding reads: ``content-type`` picks the mode, and
    any ``ce_`` header makes a reader take the message for binary mode (the ``cloudevents``
    SDK does), where every attribute must be a header."""
    lowered = name.lower()
    return lowered == "content-type" or lowered.startswith("ce_")


def stored_headers(envelope: Envelope, extra: Mapping[str, object] | None = None) -> dict[str, str]:
    """The Kafka headers an event is published with: structured mode's content type, the
    trace context (for clients that read only headers), then ``extra`` less anything that
    would contradict the mode."""
    headers = {"content-type": STRUCTURED_CONTENT_TYPE}
    headers.update((k, v.decode()) for k, v in kafka_headers(envelope))
    headers.update((k, str(v)) for k, v in (extra or {}).items() if not is_binding_header(k))
    return headers


def message_headers(
    envelope: Envelope, extra: Mapping[str, object] | None = None
) -> list[tuple[str, bytes]]:
    """``stored_headers`` as Kafka sends them."""
    return [(k, v.encode()) for k, v in stored_headers(envelope, extra).items()]


async def _connection(transaction: AsyncSession | asyncpg.Connection) -> asyncpg.Connection:
    if isinstance(transaction, asyncpg.Connection):
        return transaction
    return await driver_connection(transaction)


class Outgoing(NamedTuple):
    """An event to publish, the trace context it is caused in (None: the current one), the
    topic it goes to (None: its own; a bulk lane's, ``shared.events.topics.in_lane``), and
    the payload's JSON when the caller has written it already (None: written here)."""

    event: Event
    trace: Mapping[str, str] | None = None
    topic: str | None = None
    payload_json: str | None = None


class Outbox:
    """A service's outbox: ``add``/``add_all`` inside the caller's transaction; ``Relay``
    publishes. Each row keeps the Kafka headers it will be sent with (the trace context
    among them), so the relay sends the stored JSON as it is, parsing nothing."""

    def __init__(self, schema: str, source: str) -> None:
        self.schema = schema
        self.source = source
        self.table = outbox_table(schema)
        self.channel = f"{schema}_outbox"
        # Not shared.db.try_lock: one leader per schema and lane on fixed keys every relay
        # version shares (the live lane's is the key of the relay before lanes).
        self.lock_key = zlib.crc32(f"leadflow.outbox.{schema}".encode())
        self.bulk_lock_key = zlib.crc32(f"leadflow.outbox.{schema}.bulk".encode())
        self._insert = outbox_insert_sql(schema)

    async def add(
        self,
        session: AsyncSession,
        event: Event,
        *,
        headers: dict[str, str] | None = None,
        trace: Mapping[str, str] | None = None,
    ) -> Envelope:
        return await self.add_envelope(
            session, event.topic.name, event.envelope(self.source), headers=headers, trace=trace
        )

    async def add_all(
        self, transaction: AsyncSession | asyncpg.Connection, events: Sequence[Outgoing]
    ) -> None:
        """Record many events in one statement (and one wake-up for the relay), in a
        session's transaction or straight on a connection in one (a hot path's). Each is
        stamped with its ``trace``, else the current context, as ``add`` stamps it; its
        JSON is written straight from the payload (``Event.envelope_json``)."""
        if not events:
            return
        ids, payloads, headers = [], [], []
        for outgoing in events:
            trace = dict(outgoing.trace) if outgoing.trace else current_trace_context()
            event_id, payload = outgoing.event.envelope_json(
                self.source, trace, outgoing.payload_json
            )
            ids.append(event_id)
            payloads.append(payload)
            headers.append(
                to_json(
                    {"content-type": STRUCTURED_CONTENT_TYPE}
                    | {name: trace[name] for name in TRACE_HEADERS if trace.get(name)}
                ).decode()
            )
        await self._insert_rows(
            transaction,
            ids,
            [o.topic or o.event.topic.name for o in events],
            [o.event.partition_key() for o in events],
            [o.event.event_type for o in events],
            payloads,
            headers,
        )

    async def add_envelope(
        self,
        session: AsyncSession,
        topic: str,
        envelope: Envelope,
        *,
        headers: dict[str, str] | None = None,
        trace: Mapping[str, str] | None = None,
    ) -> Envelope:
        """Record the envelope, stamped with ``trace`` or else the current trace context
        (the request or the handler that causes it), and return it as recorded."""
        envelope = stamped(envelope, trace)
        await self._write(session, [topic], [envelope], [headers])
        return envelope

    async def _write(
        self,
        transaction: AsyncSession | asyncpg.Connection,
        topics: list[str],
        envelopes: list[Envelope],
        extra: list[dict[str, str] | None],
    ) -> None:
        if not envelopes:
            return
        await self._insert_rows(
            transaction,
            [e.id for e in envelopes],
            topics,
            [e.partitionkey for e in envelopes],
            [e.type for e in envelopes],
            [e.model_dump_json() for e in envelopes],
            [
                json.dumps(stored_headers(e, more), separators=(",", ":"))
                for e, more in zip(envelopes, extra, strict=True)
            ],
        )

    async def _insert_rows(
        self, transaction: AsyncSession | asyncpg.Connection, *columns: Sequence[object]
    ) -> None:
        """The rows (ids, topics, keys, types, payloads, headers), then the relay's wake-up."""
        conn = await _connection(transaction)
        await conn.execute(self._insert, *(list(c) for c in columns))
        # Delivered at commit, and only if the transaction commits.
        await conn.execute("SELECT pg_notify($1, '')", self.channel)

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
        bulk: bool = False,
    ) -> None:
        """``bulk``: this relay sends the bulk lane's rows (``shared.events.topics.BULK``),
        else the live lane's; a service runs one of each."""
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
        table = f"{outbox.schema}.outbox"
        self.bulk = bulk
        self.lock = outbox.bulk_lock_key if bulk else outbox.lock_key
        # This lane's rows in id order, straight from the lane index (``IN_BULK_LANE``).
        self._claim = (
            f"SELECT id, topic, key, payload::text, headers::text FROM {table} "  # noqa: S608
            f"WHERE sent_at IS NULL AND {IN_BULK_LANE} = {'true' if bulk else 'false'} "
            f"ORDER BY {IN_BULK_LANE}, id LIMIT $1 FOR UPDATE SKIP LOCKED"
        )
        self._mark_sent = f"UPDATE {table} SET sent_at = now() WHERE id = ANY($1::bigint[])"  # noqa: S608

    async def publish_pending(self) -> int:
        """Publish one batch of this lane's unsent rows, in id order. Returns how many
        were sent."""
        async with self.sessions() as session, session.begin():
            conn = await driver_connection(session)
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", self.lock):
                return 0
            rows = await conn.fetch(self._claim, self.batch_size)
            if not rows:
                return 0
            deliveries = [
                await self.producer.send(
                    topic,
                    payload.encode(),
                    key=key.encode(),
                    headers=[(k, v.encode()) for k, v in json.loads(headers).items()],
                )
                for _, topic, key, payload, headers in rows
            ]
            await asyncio.wait_for(asyncio.gather(*deliveries), self.send_timeout_s)
            await conn.execute(self._mark_sent, [r[0] for r in rows])
        for row in rows:
            OUTBOX_PUBLISHED.labels(self.outbox.schema, row[1]).inc()
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
