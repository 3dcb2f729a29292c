"""Idempotent batch consumer: at-least-once delivery, exactly-once effect, a poll at a time.

A poll's messages (every assigned partition, each in offset order) are parsed once and
applied together in one database transaction: their event ids go into
``processed_events`` in one statement (the ones seen before, and repeats inside the
batch, drop out there; a handler that keeps each event once by its own id, as ops' event
log does, is given the batch's firsts with no such row: ``claims``), and the consumer's
batch handler gets the new ones, in order, to
apply set-based (its reads for all of them at once, its writes and outbox rows a statement
each). Then the offsets ``{partition: offset + 1}`` of what is done are committed, never a
bare ``commit()``. Kept from the one-event-at-a-time consumer: per-key order (a key's events
are in one partition, and a partition's order is the list's), exactly-once effect, and a
poison event going to the dead-letter topic alone.

Failures
- an unparseable message goes to ``<topic>.dlq`` with the error in headers;
- a batch whose handler fails is split in halves and each half applied on its own, down to
  the one event that fails; that one is retried (``consumer_max_attempts``) and then goes to
  the DLQ, its id recorded as dead-lettered, while the rest of the batch is applied;
- an infrastructure failure (database or broker unreachable, a lost race) is never a
  reason to skip: each partition is rewound to its first message not done and retried after
  a backoff, while the consumer keeps polling so it stays in its group (aiokafka #848).

Observability: each event is handled in a consumer span, child of the trace context the
message carries (``shared.tracing``); the span's context travels with the event to the
handler (``Incoming.trace``), which stamps the events it publishes because of it, so they
stay in the lead's trace. Every few seconds the consumer sets its lag per topic from what
it already knows (highwater of its assigned partitions minus its position).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from opentelemetry.context import attach, detach
from opentelemetry.trace import Span
from pydantic import ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import SessionFactory, driver_connection, lost_connection
from shared.events.envelope import Envelope, utcnow
from shared.events.notices import EventDeadLettered
from shared.events.topics import dlq_topic, is_bulk
from shared.observability import (
    CONSUMER_LAG,
    DEAD_LETTERS,
    EVENT_HANDLING,
    EVENTS_CONSUMED,
    get_logger,
)
from shared.outbox import Outbox, message_headers
from shared.plumbing_tables import ProcessedSql, processed_sql
from shared.tracing import context_of_carrier, start_consumer_span, trace_context_of

log = get_logger(__name__)


@dataclass(frozen=True)
class Incoming:
    """One event of a batch, as its handler sees it."""

    envelope: Envelope
    topic: str
    trace: Mapping[str, str] = field(default_factory=dict)  # its consumer span's context


Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]
"""One event at a time (for the rare events; see ``per_event``)."""
BatchHandler = Callable[[AsyncSession, Sequence[Incoming]], Awaitable[None]]
"""A batch in one transaction, in order; it must not commit."""

ANY_TYPE = "*"
"""A ``per_event`` key that takes every event type with no handler of its own."""


def per_event(handlers: Mapping[str, Handler]) -> BatchHandler:
    """A batch handler applying each event with its type's handler, in order, each in its
    consumer span (so what it publishes is stamped with it)."""

    async def handle(session: AsyncSession, batch: Sequence[Incoming]) -> None:
        for incoming in batch:
            handler = handlers.get(incoming.envelope.type) or handlers.get(ANY_TYPE)
            if handler is not None:
                with _current(incoming):
                    await handler(session, incoming.envelope)

    return handle


def types_of(handlers: Mapping[str, Handler]) -> frozenset[str] | None:
    """The event types ``handlers`` act on (None: every type)."""
    return None if ANY_TYPE in handlers else frozenset(handlers)


@contextlib.contextmanager
def _current(incoming: Incoming) -> Iterator[None]:
    """The event's trace context as the current one (for code that stamps from it)."""
    token = attach(context_of_carrier(incoming.trace))
    try:
        yield
    finally:
        detach(token)


class TransientError(Exception):
    """Raised by a handler for a failure worth retrying forever (never dead-lettered)."""


_RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03"}


def _is_transient(exc: BaseException) -> bool:
    """Infrastructure trouble or a lost race: retried until it passes, never dead-lettered."""
    if isinstance(exc, TransientError | OperationalError | InterfaceError | KafkaError):
        return True
    if lost_connection(exc):
        return True
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or getattr(
        exc, "sqlstate", None
    )
    return sqlstate in _RETRYABLE_SQLSTATES


@dataclass
class _Item:
    tp: TopicPartition
    record: ConsumerRecord[bytes, bytes]
    envelope: Envelope | None
    error: ValidationError | None = None


class _Rewind(Exception):
    """What is not done must be read again after a backoff."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(repr(error))
        self.error = error


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        topics: list[str],
        schema: str,
        handle: BatchHandler,
        types: frozenset[str] | None,
        sessions: SessionFactory,
        consumer: AIOKafkaConsumer,
        dlq_producer: AIOKafkaProducer,
        max_attempts: int = 5,
        send_timeout_s: float = 30.0,
        lag_every_s: float = 5.0,
        bulk_batch_size: int = 50,
        outbox: Outbox | None = None,  # where ops is told of a dead letter
        claims: bool = True,
    ) -> None:
        self.name = name
        self.claims = claims
        self.outbox = outbox
        self.bulk_batch_size = bulk_batch_size
        self.topics = topics
        self.handle = handle
        self.types = types
        self.sessions = sessions
        self.consumer = consumer
        self.dlq_producer = dlq_producer
        self.max_attempts = max_attempts
        self.send_timeout_s = send_timeout_s
        self._sql = processed_sql(schema)
        self._backoff = 0.2
        self.lag_every_s = lag_every_s
        self._lag_due = 0.0
        self._done: dict[TopicPartition, int] = {}

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._report_lag()
            try:
                polled = await self._poll()
            except KafkaError as exc:
                log.warning("consumer_poll_failed", consumer=self.name, error=repr(exc))
                await asyncio.sleep(1)
                continue
            items = [
                self._parse(tp, record) for tp, records in polled.items() for record in records
            ]
            if not items:
                continue
            if await self.process(items):
                self._backoff = 0.2
            else:
                await asyncio.sleep(self._backoff)
                self._backoff = min(self._backoff * 2, 10.0)

    async def _poll(self) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        """The live lane first: what its partitions hold now, if anything; else whatever
        comes next on any partition (the bulk lane's, ``shared.events.topics.BULK``, among
        them), at most ``bulk_batch_size`` events. A live event waits behind at most the
        one small bulk batch in hand."""
        assigned = self.consumer.assignment()
        live = [tp for tp in assigned if not is_bulk(tp.topic)]
        polled: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
        if live and len(live) < len(assigned):
            polled = await self.consumer.getmany(*live, timeout_ms=0)
            if any(polled.values()):
                return polled
            polled = await self.consumer.getmany(timeout_ms=500, max_records=self.bulk_batch_size)
            return polled
        polled = await self.consumer.getmany(timeout_ms=500)
        return polled

    def _parse(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> _Item:
        try:
            return _Item(tp, record, Envelope.from_bytes(record.value or b""))
        except ValidationError as exc:
            return _Item(tp, record, None, exc)

    async def process(self, items: list[_Item]) -> bool:
        """Apply the poll's items and commit what is done. False if something must be
        read again (each partition was rewound to its first item not done)."""
        self._done = {}
        chunk: list[_Item] = []
        try:
            for item in items:
                if item.envelope is not None:
                    chunk.append(item)
                    continue
                await self._split(chunk)  # what came before it, first
                chunk = []
                error = item.error or ValueError("?")
                await self._dead_letter(item, "unparseable", error)
                await self._record_dead_letter(item, "unparseable", repr(error), processed=False)
                DEAD_LETTERS.labels(self.name, item.tp.topic, "unparseable").inc()
                self._mark([item])
            await self._split(chunk)
        except _Rewind as rewind:
            self._rewind(items, rewind.error)
            await self._commit()
            return False
        await self._commit()
        return True

    def _mark(self, items: Sequence[_Item]) -> None:
        for item in items:
            self._done[item.tp] = max(self._done.get(item.tp, -1), item.record.offset)

    def _rewind(self, items: list[_Item], error: BaseException) -> None:
        first: dict[TopicPartition, int] = {}
        for item in items:
            if item.record.offset > self._done.get(item.tp, -1):
                first.setdefault(item.tp, item.record.offset)
        for tp, offset in first.items():
            log.warning(
                "consumer_rewind",
                consumer=self.name,
                topic=tp.topic,
                partition=tp.partition,
                offset=offset,
                error=repr(error),
            )
            self.consumer.seek(tp, offset)
            EVENTS_CONSUMED.labels(self.name, tp.topic, "retried").inc()

    async def _split(self, items: list[_Item]) -> None:
        """Apply ``items`` together; if that fails for a reason of their own, each half on
        its own, down to the one event that fails (retried, then dead-lettered)."""
        if not items:
            return
        try:
            await self._apply_together(items)
            self._mark(items)
            return
        except _Rewind:
            raise
        except Exception as exc:
            if len(items) == 1:
                await self._apply_alone(items[0], exc)
                self._mark(items)
                return
        middle = len(items) // 2
        await self._split(items[:middle])
        await self._split(items[middle:])

    async def _apply_together(self, items: list[_Item]) -> None:
        started = time.perf_counter()
        wanted = [i for i in items if self.types is None or _type(i) in self.types]
        outcomes: dict[int, str] = {}
        try:
            async with self.sessions() as session, session.begin():
                fresh = await self._claim(session, wanted)
                for item in wanted:
                    outcomes[id(item)] = "applied" if id(item) in fresh else "duplicate"
                batch = [i for i in wanted if id(i) in fresh]
                if batch:
                    with _spans(self.name, batch) as incoming:
                        await self.handle(session, incoming)
        except Exception as exc:
            if _is_transient(exc):
                raise _Rewind(exc) from exc
            raise
        per_event = (time.perf_counter() - started) / max(1, len(items))
        for item in items:
            outcome = outcomes.get(id(item), "ignored")
            EVENTS_CONSUMED.labels(self.name, item.tp.topic, outcome).inc()
            EVENT_HANDLING.labels(self.name, item.tp.topic).observe(per_event)

    async def _claim(self, session: AsyncSession, items: list[_Item]) -> set[int]:
        """Record the items' event ids as processed in one statement; the ``id()`` of the
        items not seen before (the first of repeats inside the batch). A consumer whose
        handler keeps each event once by its id itself (``claims`` False) records none:
        every first of the batch's repeats is handed on, and a redelivered event is
        counted as applied though its handler changes nothing."""
        if not items:
            return set()
        ids = [_envelope(i).id for i in items]
        if self.claims:
            new = await claim(session, self._sql, self.name, ids, [i.tp.topic for i in items])
        else:
            new = set(ids)
        fresh: set[int] = set()
        for item, event_id in zip(items, ids, strict=True):
            if event_id in new:
                fresh.add(id(item))
                new.discard(event_id)  # a repeat later in the same batch is a duplicate
        return fresh

    async def _apply_alone(self, item: _Item, first_error: BaseException) -> None:
        """The one event that fails: retried after a pause, then dead-lettered."""
        error = first_error
        for attempt in range(1, self.max_attempts):
            log.warning(
                "handler_failed",
                consumer=self.name,
                event_id=str(_envelope(item).id),
                event_type=_type(item),
                attempt=attempt,
                error=repr(error),
            )
            await asyncio.sleep(min(0.05 * 2**attempt, 2.0))
            try:
                await self._apply_together([item])
                return
            except _Rewind:
                raise
            except Exception as exc:
                error = exc
        await self._dead_letter(item, "handler_failed", error)
        await self._record_dead_letter(item, "handler_failed", repr(error))
        EVENTS_CONSUMED.labels(self.name, item.tp.topic, "dead_lettered").inc()
        DEAD_LETTERS.labels(self.name, item.tp.topic, "handler_failed").inc()

    async def _commit(self) -> None:
        if not self._done:
            return
        offsets = {tp: offset + 1 for tp, offset in self._done.items()}
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError, KafkaError) as exc:
            # Rebalanced away: the new owner re-reads from the last commit, and the
            # processed-event log makes the re-delivery harmless.
            log.warning("consumer_commit_failed", consumer=self.name, error=repr(exc))

    async def _report_lag(self) -> None:
        """Set the lag gauge of each topic, at most every ``lag_every_s``. Highwater comes
        with every fetch response; a partition not fetched yet is left out."""
        now = time.monotonic()
        if now < self._lag_due:
            return
        self._lag_due = now + self.lag_every_s
        lag = dict.fromkeys(self.topics, 0)
        for tp in self.consumer.assignment():
            try:
                highwater = self.consumer.highwater(tp)
                if highwater is not None:  # so the position is known and returned at once
                    lag[tp.topic] = lag.get(tp.topic, 0) + max(
                        0, highwater - await self.consumer.position(tp)
                    )
            except (AssertionError, IllegalStateError):
                continue  # revoked meanwhile: the next owner reports it
        for topic, behind in lag.items():
            CONSUMER_LAG.labels(self.name, topic).set(behind)

    async def _record_dead_letter(
        self, item: _Item, reason: str, error: str, *, processed: bool = True
    ) -> None:
        """The event's id as processed (dead-lettered), and ops told, in one transaction."""
        try:
            async with self.sessions() as session, session.begin():
                if processed:
                    conn = await driver_connection(session)
                    await conn.execute(
                        self._sql.dead_lettered,
                        self.name,
                        _envelope(item).id,
                        item.tp.topic,
                        error[:2000],
                    )
                if self.outbox is not None:
                    notice = self._notice(item, reason, error)
                    await self.outbox.add_envelope(
                        session,
                        notice.topic.name,
                        notice.envelope(self.outbox.source, event_id=notice.notice_id()),
                    )
        except Exception as exc:
            if _is_transient(exc):
                raise _Rewind(exc) from exc
            raise

    def _notice(self, item: _Item, reason: str, error: str) -> EventDeadLettered:
        envelope, lead = item.envelope, None
        if envelope is not None and isinstance(envelope.data, Mapping):
            with contextlib.suppress(ValueError, TypeError):
                lead = (
                    UUID(str(envelope.data.get("lead_id")))
                    if envelope.data.get("lead_id")
                    else None
                )
        return EventDeadLettered(
            consumer=self.name,
            reason=reason,
            error=error[:1000],
            dead_event_id=envelope.id if envelope else None,
            dead_event_type=envelope.type if envelope else None,
            from_topic=item.tp.topic,
            partition=item.tp.partition,
            offset=item.record.offset,
            lead_id=lead,
            dead_lettered_at=utcnow(),
        )

    async def _dead_letter(self, item: _Item, reason: str, exc: BaseException) -> None:
        record, envelope = item.record, item.envelope
        details: dict[str, Any] = {
            "dlq.reason": reason,
            "dlq.error": repr(exc)[:2000],
            "dlq.error.type": type(exc).__name__,
            "dlq.stack": "".join(traceback.format_exception(exc))[-4000:],
            "dlq.consumer": self.name,
            "dlq.topic": record.topic,
            "dlq.partition": record.partition,
            "dlq.offset": record.offset,
        }
        if envelope is not None:
            details["dlq.event_id"] = str(envelope.id)
            # A copy that parsed is the event again: structured mode, its trace context.
            headers = message_headers(envelope, details)
        else:  # unparseable: the bytes and headers as they came, byte for byte
            headers = list(record.headers or [])
            headers += [(k, str(v).encode()) for k, v in details.items()]
        log.error(
            "event_dead_lettered",
            **{k.replace(".", "_"): v for k, v in details.items() if k != "dlq.stack"},
        )
        try:
            await asyncio.wait_for(
                self.dlq_producer.send_and_wait(
                    dlq_topic(record.topic), record.value, key=record.key, headers=headers
                ),
                self.send_timeout_s,
            )
        except Exception as send_error:
            raise _Rewind(send_error) from send_error


async def claim(
    session: AsyncSession,
    sql: ProcessedSql,
    consumer: str,
    event_ids: Sequence[UUID],
    topics: Sequence[str],
) -> set[UUID]:
    """Record the events as processed by ``consumer`` in one statement, in the session's
    transaction; the ids not recorded before."""
    conn = await driver_connection(session)
    return {r[0] for r in await conn.fetch(sql.claim, consumer, list(event_ids), list(topics))}


def _envelope(item: _Item) -> Envelope:
    assert item.envelope is not None
    return item.envelope


def _type(item: _Item) -> str:
    return _envelope(item).type


@contextlib.contextmanager
def _spans(consumer: str, items: list[_Item]) -> Iterator[list[Incoming]]:
    """A consumer span per event (child of its publisher's), open while the batch is
    handled; each event's ``Incoming.trace`` is its span's context."""
    spans: list[Span] = []
    incoming: list[Incoming] = []
    for item in items:
        envelope = _envelope(item)
        span = start_consumer_span(consumer, item.tp.topic, envelope, item.record.headers)
        spans.append(span)
        incoming.append(Incoming(envelope, item.tp.topic, trace_context_of(span)))
    try:
        yield incoming
    finally:
        for span in spans:
            span.end()
