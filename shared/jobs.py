"""Jobs run away from the live lane: a service queues a row in a job table of its own,
its ``JobRunner`` claims queued rows one at a time and runs each in a child process at a
lower CPU priority (``python -m <module> <id>``), so a long computation (a backtest over
a million past leads) takes neither the service's event loop nor the CPU from a live
lead. The child writes its progress and a heartbeat as it goes (``job_progress``), then
its result (``finish_job``) or why it failed (``fail_job``); a job whose heartbeat is
``STALE_S`` old (its runner stopped) is claimed again, from its start.

A job table has these columns: ``id`` (uuid), ``status`` (queued, running, done,
failed), ``request`` (JSONB), ``total``, ``done``, ``result`` (JSONB), ``error``,
``ran_by``, ``ran_at``, ``heartbeat_at``, ``finished_at``; a service adds its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import Table, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import heap
from shared.db import SessionFactory, make_engine, make_sessions
from shared.events.envelope import utcnow

log = structlog.get_logger()
POLL_S = 1.0
STALE_S = 60.0
NICE = 10  # the child's CPU priority below the services'
MOST_WAITING = 10  # jobs queued or running at once; a service refuses more (429)


class TooManyJobs(Exception):
    """``MOST_WAITING`` jobs already wait or run: a 429 until one finishes."""


async def queue_job(session: AsyncSession, table: Table, job: dict[str, Any]) -> None:
    """Queue ``job`` (its row, status queued), unless ``MOST_WAITING`` already wait or run
    (``TooManyJobs``): one long computation is queued behind another, never without end."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(table.fullname))))
    waiting = await session.scalar(
        select(func.count()).where(table.c.status.in_(("queued", "running")))
    )
    if int(waiting or 0) >= MOST_WAITING:
        raise TooManyJobs(f"{waiting} backtests already wait or run; retry when one is done")
    await session.execute(table.insert().values(**job))


async def claim_job(session: AsyncSession, table: Table, now: datetime) -> UUID | None:
    """The oldest queued job, or one whose runner stopped beating: now running, claimed
    by the caller (two runners never claim one job)."""
    stale = now - timedelta(seconds=STALE_S)
    waiting = (
        select(table.c.id)
        .where(
            or_(
                table.c.status == "queued",
                and_(table.c.status == "running", table.c.heartbeat_at < stale),
            )
        )
        .order_by(table.c.ran_at)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    found = await session.execute(
        update(table)
        .where(table.c.id == waiting)
        .values(status="running", heartbeat_at=now, done=0)
        .returning(table.c.id)
    )
    claimed: UUID | None = found.scalar()
    return claimed


async def job_progress(
    session: AsyncSession, table: Table, job: UUID, progress: tuple[int, int], now: datetime
) -> None:
    """``progress``: (done, total)."""
    done, total = progress
    await session.execute(
        update(table).where(table.c.id == job).values(done=done, total=total, heartbeat_at=now)
    )


async def finish_job(
    session: AsyncSession,
    table: Table,
    job: UUID,
    result: dict[str, Any],
    now: datetime,
    **summary: object,
) -> None:
    """Done: the result, and any of the table's own summary columns."""
    await session.execute(
        update(table)
        .where(table.c.id == job)
        .values(status="done", result=result, finished_at=now, **summary)
    )


async def fail_job(
    session: AsyncSession, table: Table, job: UUID, error: str, now: datetime
) -> None:
    await session.execute(
        update(table).where(table.c.id == job).values(status="failed", error=error, finished_at=now)
    )


class JobRunner:
    """Claims the table's jobs one at a time and runs each in a child process
    (``python -m <module> <id>``) at a lower priority; stops the child when the service
    stops (the job is claimed again once its heartbeat is stale)."""

    def __init__(
        self,
        sessions: SessionFactory,
        database_url: str,
        table: Table,
        module: str,
        *,
        poll_s: float = POLL_S,
    ) -> None:
        self.sessions = sessions
        self.database_url = database_url
        self.table = table
        self.module = module
        self.poll_s = poll_s

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with self.sessions() as session, session.begin():
                    job = await claim_job(session, self.table, utcnow())
                if job is not None:
                    await self._run_child(job, stop)
                    continue
            except Exception:  # the runner outlives a bad job or a database restart
                log.exception("job_runner_failed", table=self.table.fullname)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_s)

    async def _run_child(self, job: UUID, stop: asyncio.Event) -> None:
        ended = await run_child_process(
            self.module, [str(job)], {"DATABASE_URL": self.database_url}, stop
        )
        if ended is None or ended.returncode == 0:
            return
        log.error("job_child_failed", table=self.table.fullname, job=str(job), said=ended.said)
        async with self.sessions() as session, session.begin():
            await fail_job(
                session, self.table, job, f"the job stopped: {ended.said[:500]}", utcnow()
            )


@dataclass(frozen=True)
class Ended:
    returncode: int
    said: str  # the last line it wrote to stderr ("no output")


async def run_child_process(
    module: str, args: Sequence[str], env: Mapping[str, str], stop: asyncio.Event
) -> Ended | None:
    """``python -m module *args`` (with ``env`` over this process's environment) to its
    end; None when ``stop`` is set first (the child is terminated and waited for)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    ended = asyncio.ensure_future(child.communicate())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({ended, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not ended.done():
        child.terminate()
        await ended
        return None
    _, stderr = ended.result()
    said = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
    return Ended(child.returncode if child.returncode is not None else -1, said[0])


def run_child(work: Callable[[SessionFactory, UUID], Awaitable[None]]) -> None:
    """A job's child process: at the lower priority, on its own engine, the job named by
    its argument."""
    job = UUID(sys.argv[1])
    with contextlib.suppress(OSError):
        os.nice(NICE)
    heap.settle()

    async def main() -> None:
        engine = make_engine(os.environ["DATABASE_URL"], pool_size=2)
        try:
            await work(make_sessions(engine), job)
        finally:
            await engine.dispose()

    asyncio.run(main())
