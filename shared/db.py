"""Database plumbing: engines and sessions on asyncpg, one schema per service, and the
transaction-scoped advisory locks on business keys (``lock``, ``try_lock``).

One database session per task: a session is never shared between concurrent tasks.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SessionFactory = async_sessionmaker[AsyncSession]


def sqlalchemy_url(url: str) -> str:
    """The SQLAlchemy form (postgresql+asyncpg://) of a plain PostgreSQL URL."""
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> str:
    """The plain libpq form (postgresql://) that asyncpg.connect takes."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        # No pre-ping (a round trip per checkout): a connection broken by a database
        # restart fails its request with 503 (see problems.py) and the pool is refreshed.
        pool_recycle=1800,
    )


def make_sessions(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session's transaction: hot paths send their
    statements straight to it (prepared and cached by asyncpg), inside the same
    transaction as anything the session does."""
    connection = await session.connection()
    raw: asyncpg.Connection | None = (await connection.get_raw_connection()).driver_connection
    assert raw is not None  # asyncpg under SQLAlchemy: always there
    if not raw.is_in_transaction():
        # SQLAlchemy begins the driver's transaction lazily, at its first statement: a
        # statement sent straight to asyncpg before that would commit on its own.
        await session.execute(text("SELECT 1"))
    return raw


@contextlib.asynccontextmanager
async def raw_transaction(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection's asyncpg driver in a transaction, with no ORM session around
    it: for a hot path whose statements are all its own (BEGIN, its statements, COMMIT,
    nothing else). A connection lost under it is discarded, not given back to the pool."""
    async with engine.connect() as connection:
        raw: asyncpg.Connection | None = (await connection.get_raw_connection()).driver_connection
        assert raw is not None  # asyncpg under SQLAlchemy: always there
        try:
            async with raw.transaction():
                yield raw
        except BaseException as exc:
            if lost_connection(exc):
                await connection.invalidate()
            raise


# The keys are locked in the order given (``lock`` and ``try_lock`` sort them): the ORDER BY
# with OFFSET 0 in the subquery keeps the locks from being taken in any other order.
_LOCK = (
    "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM "
    "(SELECT k FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n) ORDER BY n OFFSET 0) AS s"
)
_TRY_LOCK = (
    "SELECT k FROM (SELECT k FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n) "
    "ORDER BY n OFFSET 0) AS s WHERE pg_try_advisory_xact_lock(hashtextextended(k, 0))"
)


async def lock(conn: asyncpg.Connection, keys: Iterable[str]) -> None:
    """Transaction-scoped advisory locks on business keys (text, hashed to 64 bits), held to
    the end of the caller's transaction, taken in one statement in sorted order so that two
    transactions never wait on each other in a circle. A caller that locks keys of several
    kinds in separate calls takes the kinds in one fixed order on every path."""
    ordered = sorted(set(keys))
    if ordered:
        await conn.fetchval(_LOCK, ordered)


async def try_lock(conn: asyncpg.Connection, keys: Iterable[str]) -> set[str]:
    """The keys whose lock was free now (and is now held, as ``lock``'s); the others are
    left alone, not waited for."""
    ordered = sorted(set(keys))
    if not ordered:
        return set()
    return {r[0] for r in await conn.fetch(_TRY_LOCK, ordered)}


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


_LOST_CONNECTION = (
    asyncpg.exceptions.PostgresConnectionError,  # incl. ConnectionDoesNotExistError
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,  # a connection left mid-operation by a dying server
    ConnectionError,
    OSError,
    TimeoutError,
)


def lost_connection(exc: BaseException) -> bool:
    """Whether the database went away under this error (restart, shutdown, network), as
    opposed to the statement being wrong: worth a retry or a 503, never a dead letter."""
    seen: BaseException | None = exc
    for _ in range(8):  # the error, the driver's error under it, and their causes
        if seen is None:
            return False
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, _LOST_CONNECTION):
            return True
        sqlstate = str(getattr(seen, "sqlstate", "") or "")
        if sqlstate[:2] in {"08", "57"}:  # connection exception; operator intervention
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return False
