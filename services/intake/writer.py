"""The single-lead door at machine speed: concurrent requests' leads are registered
together. Each request hands its lead to the writer and waits for its own answer; the
writer takes every lead waiting (up to ``max_batch``) into one transaction
(``bulk.register``: a few statements whatever their number, straight on the driver's
connection) and answers each. While a
transaction is in flight the next requests gather, so under load a transaction carries
many leads and at rest a lead waits for nobody (no timer: a lead alone is written at
once).

A failure of the shared transaction never becomes a wrong answer: a lost database is
every waiter's 503 (nothing was stored); any other error is retried lead by lead, so a
lead the database refuses fails alone."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from services.intake.bulk import Entry, Registered, register
from shared.db import lost_connection, raw_transaction
from shared.observability import get_logger
from shared.outbox import Outbox

log = get_logger(__name__)


@dataclass
class _Waiting:
    entry: Entry
    answer: asyncio.Future[Registered]


class LeadWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        outbox: Outbox,
        *,
        window: timedelta,
        max_batch: int = 500,
        writers: int = 2,
    ) -> None:
        self.engine = engine
        self.outbox = outbox
        self.window = window
        self.max_batch = max_batch
        self.writers = writers
        self._waiting: list[_Waiting] = []
        self._ready = asyncio.Event()

    async def register(self, entry: Entry) -> Registered:
        """Register the lead with whatever else is waiting; its own result."""
        answer: asyncio.Future[Registered] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(entry, answer))
        self._ready.set()
        return await answer

    async def run(self, stop: asyncio.Event) -> None:
        """``writers`` transactions in flight at most (one fills while another commits)."""
        tasks = [asyncio.create_task(self._write_forever(stop)) for _ in range(self.writers)]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for waiting in self._waiting:  # stopped: nothing more is written
                if not waiting.answer.done():
                    waiting.answer.set_exception(ConnectionError("intake is stopping"))

    async def _write_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if not self._waiting:
                self._ready.clear()
                await self._ready.wait()
                continue
            batch, self._waiting = (
                self._waiting[: self.max_batch],
                self._waiting[self.max_batch :],
            )
            await self._write(batch)

    async def _write(self, batch: Sequence[_Waiting]) -> None:
        try:
            results = await self._in_one_transaction([w.entry for w in batch])
        except Exception as exc:
            if lost_connection(exc) or len(batch) == 1:
                for waiting in batch:
                    if not waiting.answer.done():
                        waiting.answer.set_exception(exc)
                return
            log.warning("lead_batch_retried_alone", leads=len(batch), error=repr(exc))
            for waiting in batch:
                await self._write([waiting])
            return
        for waiting, result in zip(batch, results, strict=True):
            if not waiting.answer.done():
                waiting.answer.set_result(result)

    async def _in_one_transaction(self, entries: list[Entry]) -> list[Registered]:
        async with raw_transaction(self.engine) as conn:
            return await register(conn, self.outbox, entries, window=self.window)
