"""Wake-ups for open event streams: one ``LISTEN`` connection per process, on the channel
the event log notifies on every insert. A notification only says "look again"; a stream
also looks every ``stream_poll_s``, so a lost connection or notification delays, never
loses, an event."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg

from services.ops.tables import NOTIFY_CHANNEL
from shared.observability import get_logger

log = get_logger(__name__)


class NewEvents:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._arrived = asyncio.Event()

    async def wait(self, timeout_s: float) -> None:
        """Return when events were logged since the last wake-up, or after the timeout."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), timeout_s)

    def _on_notify(self, *_args: Any) -> None:
        # Wake every waiter, then re-arm: each stream queries from its own position.
        self._arrived.set()
        self._arrived = asyncio.Event()

    async def listen(self, stop: asyncio.Event) -> None:
        """Keep a LISTEN connection until ``stop``; reconnect with backoff if it drops."""
        backoff = 0.5
        while not stop.is_set():
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(self.dsn, timeout=10)
                await connection.add_listener(NOTIFY_CHANNEL, self._on_notify)
                backoff = 0.5
                while not stop.is_set() and not connection.is_closed():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 5)
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning("ops_listen_retry", error=repr(exc), backoff_s=backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 10)
            finally:
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(OSError, asyncpg.PostgresError, TimeoutError):
                        await asyncio.wait_for(connection.close(), 5)
