"""Wake-ups for open event streams: one ``LISTEN`` connection per process, on the channel
the event log notifies on every insert. A notification only says "look again"; a stream
also looks every ``stream_poll_s``, so a lost connection or notification delays, never
loses, an event."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from services.ops.tables import NOTIFY_CHANNEL
from shared.db import lost_connection
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


async def wait_for_work(stop: asyncio.Event, new_events: NewEvents | None, seconds: float) -> None:
    """Until ``stop``, new events in the log, or ``seconds``, whichever is first."""
    waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(stop.wait())]
    if new_events is not None:
        waiters.append(asyncio.ensure_future(new_events.wait(seconds)))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def run_passes(
    stop: asyncio.Event,
    one_pass: Callable[[], Awaitable[bool]],
    *,
    name: str,
    new_events: NewEvents | None,
    poll_s: float,
) -> None:
    """A background loop of ops' (the webhook sender's, the notifier's): until ``stop``, a
    pass; another at once when it says more is waiting, else after new events or
    ``poll_s``. A failed pass (the database went away) keeps everything and is retried
    with backoff."""
    backoff = 0.5
    while not stop.is_set():
        try:
            more = await one_pass()
            backoff = 0.5
            if not more:
                await wait_for_work(stop, new_events, poll_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(f"{name}_pass_retry", error=repr(exc), lost=lost_connection(exc),
                        backoff_s=backoff)  # fmt: skip
            await wait_for_work(stop, None, backoff)
            backoff = min(backoff * 2, 10)
