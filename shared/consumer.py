"""Idempotent event consumer: at-least-once delivery, exactly-once effect.

For each message: parse the envelope; pick the handler for its type (a type the consumer
has no handler for is skipped); in one database transaction record its event id in
``processed_events`` (a duplicate stops here) and apply the handler, whose state
changes and outgoing events (outbox) commit together; then commit the Kafka offset
``{partition: offset + 1}`` for what is done, never a bare ``commit()``.

Failures
- an unparseable message goes to ``<topic>.dlq`` with the error in headers;
- a handler that keeps failing (``consumer_max_attempts``) goes there too, and its id is
  recorded as dead-lettered;
- an infrastructure failure (database or broker unreachable) is never a reason to skip:
  the partition is rewound to the failed message and retried after a backoff, while the
  consumer keeps polling so it stays in its group (aiokafka #848).

Observability: each handler runs in a consumer span, child of the trace context the
message carries (``shared.tracing``), so what it publishes stays in the lead's trace; every
few seconds the consumer sets its lag per topic from what it already knows (highwater of
its assigned partitions minus its position), with no extra request to the broker.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import SessionFactory, lost_connection
from shared.events.envelope import Envelope
from shared.events.topics import dlq_topic
from shared.observability import (
    CONSUMER_LAG,
    DEAD_LETTERS,
    EVENT_HANDLING,
    EVENTS_CONSUMED,
    get_logger,
)
from shared.outbox import STRUCTURED_CONTENT_TYPE, is_binding_header
from shared.plumbing_tables import processed_events_table
from shared.tracing import consumer_span

log = get_logger(__name__)

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]

ANY_TYPE = "*"
"""A handlers key that takes every event type the consumer has no specific handler for."""


class TransientError(Exception):
    """Raised by a handler for a failure worth retrying forever (never dead-lettered)."""


_RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03"}


def _is_transient(exc: BaseException) -> bool:
    """Infrastructure trouble or a lost race: retried until it passes, never dead-lettered."""
    if isinstance(exc, TransientError | OperationalError | InterfaceError | KafkaError):
        return True
    if lost_connection(exc):
        return True
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return sqlstate in _RETRYABLE_SQLSTATES


@dataclass
class _Rewind(Exception):
    """The partition must be re-read from this offset after a backoff."""

    offset: int
    error: BaseException


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        topics: list[str],
        schema: str,
        handlers: Mapping[str, Handler],
        sessions: SessionFactory,
        consumer: AIOKafkaConsumer,
        dlq_producer: AIOKafkaProducer,
        max_attempts: int = 5,
        send_timeout_s: float = 30.0,
        lag_every_s: float = 5.0,
    ) -> None:
        self.name = name
        self.topics = topics
        self.handlers = handlers
        self.sessions = sessions
        self.consumer = consumer
        self.dlq_producer = dlq_producer
        self.max_attempts = max_attempts
        self.send_timeout_s = send_timeout_s
        self.processed = processed_events_table(schema)
        self._backoff = 0.2
        self.lag_every_s = lag_every_s
        self._lag_due = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._report_lag()
            try:
                batches = await self.consumer.getmany(timeout_ms=500)
            except KafkaError as exc:
                log.warning("consumer_poll_failed", consumer=self.name, error=repr(exc))
                await asyncio.sleep(1)
                continue
            rewound = False
            for tp, messages in batches.items():
                rewound |= not await self._process_partition(tp, messages, stop)
            if rewound:
                await asyncio.sleep(self._backoff)
                self._backoff = min(self._backoff * 2, 10.0)
            else:
                self._backoff = 0.2

    async def _process_partition(
        self, tp: TopicPartition, messages: list[ConsumerRecord[bytes, bytes]], stop: asyncio.Event
    ) -> bool:
        """Apply messages in order and commit what is done. False if the partition was rewound.

        Messages are applied together, in one transaction, while they all succeed (one
        commit for many events is what makes a consumer fast); the first one that fails is
        then taken alone, with its retries and, in the end, the dead-letter topic.
        """
        pending = messages
        done: int | None = None
        try:
            while pending and not stop.is_set():
                failed_at = await self._apply_together(pending)
                if failed_at is None:
                    done, pending = pending[-1].offset, []
                    break
                if failed_at > 0 and await self._apply_together(pending[:failed_at]) is None:
                    done, pending = pending[failed_at - 1].offset, pending[failed_at:]
                    continue
                await self._process(pending[0])
                done, pending = pending[0].offset, pending[1:]
        except _Rewind as rewind:
            log.warning(
                "consumer_rewind",
                consumer=self.name,
                topic=tp.topic,
                partition=tp.partition,
                offset=rewind.offset,
                error=repr(rewind.error),
            )
            self.consumer.seek(tp, rewind.offset)
            EVENTS_CONSUMED.labels(self.name, tp.topic, "retried").inc()
            await self._commit(tp, done)
            return False
        await self._commit(tp, done)
        return True

    async def _apply_together(self, messages: list[ConsumerRecord[bytes, bytes]]) -> int | None:
        """Apply all in one transaction. None when all committed; otherwise the index of the
        first message that could not be applied, and nothing was (the transaction rolled back)."""
        outcomes: list[str] = []
        started = time.perf_counter()
        try:
            async with self.sessions() as session, session.begin():
                for index, message in enumerate(messages):
                    try:
                        envelope = Envelope.from_bytes(message.value or b"")
                        outcomes.append(await self._apply_in(session, envelope, message))
                    except Exception as exc:
                        if _is_transient(exc):
                            raise
                        await session.rollback()
                        return index
        except Exception as exc:
            if _is_transient(exc):
                raise _Rewind(messages[0].offset, exc) from exc
            raise
        elapsed = (time.perf_counter() - started) / max(1, len(messages))
        for message, outcome in zip(messages, outcomes, strict=True):
            EVENTS_CONSUMED.labels(self.name, message.topic, outcome).inc()
            EVENT_HANDLING.labels(self.name, message.topic).observe(elapsed)
        return None

    async def _commit(self, tp: TopicPartition, last_done: int | None) -> None:
        if last_done is None:
            return
        try:
            await self.consumer.commit({tp: last_done + 1})
        except (CommitFailedError, IllegalStateError, KafkaError) as exc:
            # Rebalanced away: the new owner re-reads from the last commit, and the
            # processed-event log makes the re-delivery harmless.
            log.warning(
                "consumer_commit_failed", consumer=self.name, topic=tp.topic, error=repr(exc)
            )

    async def _process(self, message: ConsumerRecord[bytes, bytes]) -> None:
        try:
            envelope = Envelope.from_bytes(message.value or b"")
        except ValidationError as exc:
            await self._dead_letter(message, "unparseable", exc)
            EVENTS_CONSUMED.labels(self.name, message.topic, "dead_lettered").inc()
            DEAD_LETTERS.labels(self.name, message.topic, "unparseable").inc()
            return
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                outcome = await self._apply(envelope, message)
            except Exception as exc:
                if _is_transient(exc):
                    raise _Rewind(message.offset, exc) from exc
                if attempt < self.max_attempts:
                    log.warning(
                        "handler_failed",
                        consumer=self.name,
                        event_id=str(envelope.id),
                        event_type=envelope.type,
                        attempt=attempt,
                        error=repr(exc),
                    )
                    await asyncio.sleep(min(0.05 * 2**attempt, 2.0))
                    continue
                await self._dead_letter(message, "handler_failed", exc, envelope)
                await self._record_dead_letter(envelope, message, repr(exc))
                EVENTS_CONSUMED.labels(self.name, message.topic, "dead_lettered").inc()
                DEAD_LETTERS.labels(self.name, message.topic, "handler_failed").inc()
                return
            EVENT_HANDLING.labels(self.name, message.topic).observe(time.perf_counter() - started)
            EVENTS_CONSUMED.labels(self.name, message.topic, outcome).inc()
            return

    async def _apply(self, envelope: Envelope, message: ConsumerRecord[bytes, bytes]) -> str:
        async with self.sessions() as session, session.begin():
            return await self._apply_in(session, envelope, message)

    async def _apply_in(
        self, session: AsyncSession, envelope: Envelope, message: ConsumerRecord[bytes, bytes]
    ) -> str:
        handler = self.handlers.get(envelope.type) or self.handlers.get(ANY_TYPE)
        if handler is None:
            return "ignored"  # a type this consumer does not act on (topics carry several)
        first_time = await session.scalar(
            insert(self.processed)
            .values(
                consumer=self.name, event_id=envelope.id, topic=message.topic, outcome="applied"
            )
            .on_conflict_do_nothing()
            .returning(self.processed.c.event_id)
        )
        if first_time is None:
            return "duplicate"
        with consumer_span(self.name, message.topic, envelope, message.headers):
            await handler(session, envelope)
        return "applied"

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
        self, envelope: Envelope, message: ConsumerRecord[bytes, bytes], error: str
    ) -> None:
        try:
            async with self.sessions() as session, session.begin():
                await session.execute(
                    insert(self.processed)
                    .values(
                        consumer=self.name,
                        event_id=envelope.id,
                        topic=message.topic,
                        outcome="dead_lettered",
                        error=error[:2000],
                    )
                    .on_conflict_do_nothing()
                )
        except Exception as exc:
            if _is_transient(exc):
                raise _Rewind(message.offset, exc) from exc
            raise

    async def _dead_letter(
        self,
        message: ConsumerRecord[bytes, bytes],
        reason: str,
        exc: BaseException,
        envelope: Envelope | None = None,
    ) -> None:
        """Copy the message to ``<topic>.dlq`` with the failure in ``dlq.*`` headers. An
        unparseable one is copied byte for byte, headers and all: it was never an event,
        and whoever looks at it needs it as it was sent."""
        headers: list[tuple[str, bytes]] = list(message.headers or [])
        if envelope is not None:
            # A valid event stays a valid CloudEvent on the DLQ: its value is copied as
            # is, so its headers say structured mode, whatever the publisher sent (one
            # from before the binding headers were fixed sent partial ce_ headers).
            headers = [("content-type", STRUCTURED_CONTENT_TYPE.encode())] + [
                (k, v) for k, v in headers if not is_binding_header(k)
            ]
        details: dict[str, Any] = {
            "dlq.reason": reason,
            "dlq.error": repr(exc)[:2000],
            "dlq.error.type": type(exc).__name__,
            "dlq.stack": "".join(traceback.format_exception(exc))[-4000:],
            "dlq.consumer": self.name,
            "dlq.topic": message.topic,
            "dlq.partition": message.partition,
            "dlq.offset": message.offset,
        }
        if envelope is not None:
            details["dlq.event_id"] = str(envelope.id)
        headers += [(k, str(v).encode()) for k, v in details.items()]
        log.error(
            "event_dead_lettered",
            **{k.replace(".", "_"): v for k, v in details.items() if k != "dlq.stack"},
        )
        try:
            await asyncio.wait_for(
                self.dlq_producer.send_and_wait(
                    dlq_topic(message.topic), message.value, key=message.key, headers=headers
                ),
                self.send_timeout_s,
            )
        except Exception as send_error:
            raise _Rewind(message.offset, send_error) from send_error
