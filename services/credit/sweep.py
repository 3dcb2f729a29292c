"""The review sweep, started with the service. It re-decides two kinds of lead:

- those a touch queued (``review_queue``): a touch on a domain can change every lead on it
  received after it; the consumer stores the touch and queues them, and the sweep
  re-decides each from its facts, as the consumer would have;
- those whose time has come: time passing is the only fact some decisions wait for (an
  acceptance window closing in silence, a return window, the hours to report a no-show, a
  reschedule window, a holding period ending). Each decision stores when it would change
  with no new fact (``next_review_at``); the sweep re-decides it as of that time — so a
  replay from the topics gives the same answer.

A batch of leads (``BATCH``) is re-decided per transaction (``service.redecide_all``).
Safe with several credit instances: each lead is re-decided under its advisory lock
(taken without waiting: a lead another instance or a consumer holds is left to them), and
its due time is read again under the lock, so no deadline is acted on twice. Durable: the
due times live in PostgreSQL, so a restart loses none. The clock is injected."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from uuid import UUID

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import store
from services.credit.service import redecide_all
from shared.db import SessionFactory, driver_connection, lost_connection, try_lock
from shared.observability import get_logger
from shared.outbox import Outbox
from shared.times import SYSTEM_CLOCK, Clock

log = get_logger(__name__)

SWEEP_EVERY_S = 2.0  # when nothing is due a sweep is two index reads
BATCH = 200

Review = Callable[[AsyncSession, list[UUID]], Awaitable[tuple[set[UUID], int]]]
"""Re-decide those of the leads still ours to review (in the session's transaction): the
leads that were (the others: held by someone else, or done meanwhile), and how many
decisions changed."""


async def review_queued(
    session: AsyncSession, outbox: Outbox | None, leads: list[UUID]
) -> tuple[set[UUID], int]:
    """Leads a touch queued: each taken from the queue (before its facts are read: a touch
    committed later queues it again) and re-decided, unless another transaction holds it."""
    conn = await driver_connection(session)
    locked = await try_lock(conn, [store.lead_key(lead) for lead in leads])
    mine = [lead for lead in leads if store.lead_key(lead) in locked]
    taken = await store.take_from_review_queue(conn, mine)
    decided = await redecide_all(session, outbox, [lead for lead in mine if lead in taken])
    return taken, len(decided)


async def review_due(
    session: AsyncSession, outbox: Outbox | None, leads: list[UUID], now: datetime
) -> tuple[set[UUID], int]:
    """Leads whose time came: each re-decided as of its due time, read again under its
    lock (a newer fact may have decided it meanwhile), unless another holds it."""
    conn = await driver_connection(session)
    locked = await try_lock(conn, [store.lead_key(lead) for lead in leads])
    latest = await store.latest_decisions_of(
        conn, [lead for lead in leads if store.lead_key(lead) in locked]
    )
    due = {
        lead: row.next_review_at
        for lead, row in latest.items()
        if row.next_review_at is not None and row.next_review_at <= now
    }
    decided = await redecide_all(session, outbox, list(due), review_due=due)
    return set(due), len(decided)


async def sweep_once(
    sessions: SessionFactory, outbox: Outbox | None, *, now: datetime, batch: int = BATCH
) -> int:
    """Review every lead a touch queued, then every lead due by ``now`` (a lead with
    several passed deadlines is re-decided at each, in order), a batch per transaction.
    Returns how many decisions changed."""

    async def queued(conn: asyncpg.Connection, limit: int) -> list[UUID]:
        return await store.queued_for_review(conn, limit)

    async def due(conn: asyncpg.Connection, limit: int) -> list[UUID]:
        return await store.due_for_review(conn, now, limit)

    changed = await _review_all(
        sessions, queued, lambda s, leads: review_queued(s, outbox, leads), batch
    )
    return changed + await _review_all(
        sessions, due, lambda s, leads: review_due(s, outbox, leads, now), batch
    )


async def _review_all(
    sessions: SessionFactory,
    pending: Callable[[asyncpg.Connection, int], Awaitable[list[UUID]]],
    review: Review,
    batch: int,
) -> int:
    """Review ``pending`` leads a batch at a time until none is left but those skipped
    (held by someone else, or failing: one lead's failure must not stall the others; a
    failing batch is split in halves down to it)."""
    changed = 0
    skipped: set[UUID] = set()
    while True:
        async with sessions() as session:
            conn = await driver_connection(session)
            found = [
                lead for lead in await pending(conn, batch + len(skipped)) if lead not in skipped
            ]
        if not found:
            return changed
        done, n = await _in_halves(sessions, review, found[:batch])
        changed += n
        skipped |= set(found[:batch]) - done


async def _in_halves(
    sessions: SessionFactory, review: Review, leads: list[UUID]
) -> tuple[set[UUID], int]:
    try:
        async with sessions() as session, session.begin():
            return await review(session, leads)
    except Exception as exc:
        if lost_connection(exc):
            raise  # the database went away: the next tick tries again
        if len(leads) == 1:
            log.warning("credit_review_failed", lead_id=str(leads[0]), error=repr(exc))
            return set(), 0
    middle = len(leads) // 2
    first, n = await _in_halves(sessions, review, leads[:middle])
    second, m = await _in_halves(sessions, review, leads[middle:])
    return first | second, n + m


async def run_sweep(
    sessions: SessionFactory,
    outbox: Outbox,
    stop: asyncio.Event,
    *,
    clock: Clock = SYSTEM_CLOCK,
    every_s: float = SWEEP_EVERY_S,
) -> None:
    """Sweep every ``every_s`` until ``stop``; a failed sweep (database down) is logged
    and tried again at the next tick."""
    while not stop.is_set():
        try:
            changed = await sweep_once(sessions, outbox, now=clock())
            if changed:
                log.info("credit_sweep", changed=changed)
        except Exception as exc:
            log.warning("credit_sweep_failed", error=repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
