"""Open streams are woken by the event log's NOTIFY, not only by their poll."""

from __future__ import annotations

import asyncio
import contextlib
import time

from services.ops.live import NewEvents
from services.ops.recording import record_all
from shared.db import SessionFactory, asyncpg_dsn
from shared.events.envelope import Envelope
from tests.support.infra import Infra


async def test_a_logged_event_wakes_a_waiting_stream_at_once(
    infra: Infra, sessions: SessionFactory
) -> None:
    new_events = NewEvents(asyncpg_dsn(infra.database_url))
    stop = asyncio.Event()
    listening = asyncio.create_task(new_events.listen(stop))
    try:
        await asyncio.sleep(0.5)  # connected and listening
        waiting = asyncio.create_task(new_events.wait(timeout_s=30))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        async with sessions() as session, session.begin():
            woke = Envelope(source="/test", type="test.woke.v1", partitionkey="k", data={})
            await record_all(session, [(woke, "leads.status")])
        await asyncio.wait_for(waiting, 5)
        assert time.monotonic() - started < 2
    finally:
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(listening, 10)


async def test_without_a_notification_a_stream_still_looks_after_its_poll(infra: Infra) -> None:
    new_events = NewEvents(asyncpg_dsn(infra.database_url))  # not listening at all
    started = time.monotonic()
    await new_events.wait(timeout_s=0.3)
    assert 0.25 < time.monotonic() - started < 2
