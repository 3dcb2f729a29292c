"""The review sweep, started with the service. It re-decides two kinds of lead:

- those a touch queued (``review_queue``): a touch on a domain can change every lead on it
  received after it; the consumer stores the touch and queues them, and the sweep
  re-decides each from its facts, as the consumer would have;
- those whose time has come: time passing is the only fact some decisions wait for (an
  acceptance window closing in silence, a return window, the hours to report a no-show, a
  reschedule window, a holding period ending). Each decision stores when it would change
  with no new fact (``next_review_at``); the sweep re-decides it as of that time — so a
  replay from the topics gives the same answer.

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

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import store
from services.credit.service import redecide
from shared.db import SessionFactory
from shared.events.envelope import utcnow
from shared.observability import get_logger
from shared.outbox import Outbox

log = get_logger(__name__)

Clock = Callable[[], datetime]
SWEEP_EVERY_S = 2.0  # when nothing is due a sweep is two index reads
BATCH = 200


async def review_queued_lead(
    sessions: SessionFactory, outbox: Outbox, lead_id: UUID
) -> bool | None:
    """Re-decide one lead a touch queued, in its own transaction: True if its decision
    changed, False if not, None if it was not (or no longer) ours to review."""
    async with sessions() as session, session.begin():
        if not await store.try_lock(session, f"lead:{lead_id}"):
            return None  # being decided right now; it stays queued for the next sweep
        if not await store.take_from_review_queue(session, lead_id):
            return None  # another instance reviewed it
        return await redecide(session, outbox, lead_id) is not None


async def review_lead(
    sessions: SessionFactory, outbox: Outbox, lead_id: UUID, now: datetime
) -> bool | None:
    """Re-decide one due lead in its own transaction: True if its decision changed, False
    if not, None if it was not (or no longer) ours to review."""
    async with sessions() as session, session.begin():
        if not await store.try_lock(session, f"lead:{lead_id}"):
            return None  # a consumer or another instance is deciding it right now
        latest = await store.latest_decision(session, lead_id)
        due = latest.next_review_at if latest else None
        if due is None or due > now:
            return None  # already reviewed, or changed by a newer fact
        return await redecide(session, outbox, lead_id, review_due=due) is not None


async def sweep_once(
    sessions: SessionFactory, outbox: Outbox, *, now: datetime, batch: int = BATCH
) -> int:
    """Review every lead a touch queued, then every lead due by ``now`` (a lead with
    several passed deadlines is re-decided at each, in order). Returns how many decisions
    changed."""
    changed = await _review_all(
        sessions,
        store.queued_for_review,
        lambda lead_id: review_queued_lead(sessions, outbox, lead_id),
        batch,
    )
    return changed + await _review_all(
        sessions,
        lambda session, limit: store.due_for_review(session, now, limit),
        lambda lead_id: review_lead(sessions, outbox, lead_id, now),
        batch,
    )


async def _review_all(
    sessions: SessionFactory,
    pending: Callable[[AsyncSession, int], Awaitable[list[UUID]]],
    review: Callable[[UUID], Awaitable[bool | None]],
    batch: int,
) -> int:
    """Review ``pending`` leads a batch at a time until none is left but those skipped
    (held by someone else, or failed: one lead's failure must not stall the others)."""
    changed = 0
    skipped: set[UUID] = set()
    while True:
        async with sessions() as session:
            found = [
                lead for lead in await pending(session, batch + len(skipped)) if lead not in skipped
            ]
        if not found:
            return changed
        for lead_id in found:
            try:
                outcome = await review(lead_id)
            except Exception as exc:
                log.warning("credit_review_failed", lead_id=str(lead_id), error=repr(exc))
                outcome = None
            if outcome is None:
                skipped.add(lead_id)
            changed += bool(outcome)


async def run_sweep(
    sessions: SessionFactory,
    outbox: Outbox,
    stop: asyncio.Event,
    *,
    clock: Clock = utcnow,
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
