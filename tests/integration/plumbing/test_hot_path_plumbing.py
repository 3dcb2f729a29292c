"""The plumbing under the lead door, against the real PostgreSQL: a busy door's requests
that find a credential's cache entry stale together read it once (not once each, which
took a connection per request in flight every half second), and a connection lost under
a hot path's raw transaction is dropped from the pool, not handed to the next caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from shared.credentials import CACHE_S, Verifier
from shared.db import asyncpg_dsn, lost_connection, make_engine, make_sessions, raw_transaction
from tests.support.credentials import ADMIN, SUBMIT
from tests.support.infra import Infra


class CountedSessions:
    """The real session factory, counting the sessions it opens."""

    def __init__(self, sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]]) -> None:
        self.sessions = sessions
        self.opened = 0

    def __call__(self) -> AbstractAsyncContextManager[AsyncSession]:
        self.opened += 1
        return self.sessions()


@pytest.fixture
async def counted(infra: Infra) -> AsyncIterator[CountedSessions]:
    engine = make_engine(infra.database_url, pool_size=2)
    try:
        yield CountedSessions(make_sessions(engine))
    finally:
        await engine.dispose()


async def test_requests_that_find_a_key_stale_together_read_it_once(
    counted: CountedSessions,
) -> None:
    now = [0.0]
    verifier = Verifier(counted, clock=lambda: now[0])  # type: ignore[arg-type]
    callers = await asyncio.gather(*(verifier.caller(ADMIN) for _ in range(40)))
    assert {c.name for c in callers if c is not None} == {"tests (admin)"}
    assert all(c is not None for c in callers)
    assert counted.opened == 1
    now[0] += CACHE_S / 2  # still trusted: no read
    await asyncio.gather(*(verifier.caller(ADMIN) for _ in range(40)))
    assert counted.opened == 1
    now[0] += CACHE_S  # stale: one read again for all of them, one for the other key
    again = await asyncio.gather(
        *(verifier.caller(token) for _ in range(40) for token in (ADMIN, SUBMIT))
    )
    assert all(c is not None for c in again)
    assert counted.opened == 3


async def test_a_shared_read_still_checks_each_token_s_secret(counted: CountedSessions) -> None:
    verifier = Verifier(counted)  # type: ignore[arg-type]
    key_id_and_wrong_secret = ADMIN.rsplit("_", 1)[0] + "_not-the-secret"
    right, wrong = await asyncio.gather(
        verifier.caller(ADMIN), verifier.caller(key_id_and_wrong_secret)
    )
    assert right is not None
    assert wrong is None
    assert counted.opened == 1


async def _terminate(infra: Infra, pid: int) -> None:
    killer = await asyncpg.connect(asyncpg_dsn(infra.database_url))
    try:
        await killer.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await killer.close()


async def test_a_connection_lost_in_a_raw_transaction_leaves_the_pool(infra: Infra) -> None:
    engine = make_engine(infra.database_url, pool_size=1)  # the next caller would get it back
    pids: list[int] = []

    async def lose_the_connection() -> None:
        async with raw_transaction(engine) as conn:
            pids.append(await conn.fetchval("SELECT pg_backend_pid()"))
            await _terminate(infra, pids[0])
            await conn.fetchval("SELECT 1")

    try:
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError)) as lost:
            await lose_the_connection()
        assert lost_connection(lost.value), repr(lost.value)
        async with raw_transaction(engine) as conn:  # a new connection, not the dead one
            assert await conn.fetchval("SELECT pg_backend_pid()") != pids[0]
            assert conn.is_in_transaction()
    finally:
        await engine.dispose()
