"""The SLA timer worker: one asyncio task per router instance fires due timers.

Each pass, in one transaction, claims due pending timers together with their lead's row
and lifecycle row (``FOR UPDATE ... SKIP LOCKED``: another instance, or a stage change in
progress, keeps its rows and this pass never waits), marks each fired and writes its
event to the outbox. A timer is therefore fired once: a crash before the commit leaves
it pending for the next pass (here or on another instance), and after the commit it is
no longer pending. The clock is injected (tests drive it; production reads UTC now).

- reminder → ``lead.sla_reminder`` to the owner;
- breach → ``lead.sla_breached`` naming the owner's manager (escalation);
- reassign → the lead routed again by the rules (a new ``lead.routed`` revision) skipping
  every owner it had, fresh timers for the new owner, and ``lead.reassigned``.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.router import service, stages, store
from services.router.domain.lifecycle import awaits_acceptance
from services.router.tables import LeadRow, LifecycleRow, OwnerRow, SlaTimerRow
from shared.db import SessionFactory
from shared.events.lifecycle import LeadReassigned, LeadSlaBreached, LeadSlaReminder
from shared.observability import get_logger
from shared.outbox import Outbox
from shared.times import Clock

log = get_logger(__name__)

SLA_EVENTS = Counter(
    "leadflow_sla_events_total", "SLA timers fired, by kind (reminder, breached, reassigned)",
    ["kind"],
)  # fmt: skip
_EVENT_KIND = {"reminder": "reminder", "breach": "breached", "reassign": "reassigned"}


class SlaTimers:
    def __init__(
        self,
        sessions: SessionFactory,
        outbox: Outbox,
        clock: Clock,
        *,
        batch_size: int = 100,
        tick_s: float = 2.0,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.clock = clock
        self.batch_size = batch_size
        self.tick_s = tick_s

    async def fire_due(self) -> int:
        """Fire one batch of due timers. Returns how many were claimed."""
        now = self.clock()
        fired: list[str] = []
        async with self.sessions() as session, session.begin():
            claimed = (
                await session.execute(
                    select(SlaTimerRow, LifecycleRow)
                    .join(LifecycleRow, col(LifecycleRow.lead_id) == col(SlaTimerRow.lead_id))
                    .join(LeadRow, col(LeadRow.lead_id) == col(SlaTimerRow.lead_id))
                    .where(col(SlaTimerRow.status) == "pending", col(SlaTimerRow.fire_at) <= now)
                    .order_by(col(SlaTimerRow.fire_at), col(SlaTimerRow.id))
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for timer, row in claimed:
                if await self._fire(session, timer, row, now):
                    fired.append(_EVENT_KIND[timer.kind])
        for kind in fired:
            SLA_EVENTS.labels(kind).inc()
        return len(claimed)

    async def _fire(
        self, session: AsyncSession, timer: SlaTimerRow, row: LifecycleRow, now: datetime
    ) -> bool:
        if timer.status != "pending":
            return False  # cancelled by a reassignment earlier in this batch
        if timer.revision != row.revision or not awaits_acceptance(row.stage):  # type: ignore[arg-type]
            timer.status, timer.settled_at = "cancelled", now
            return False
        timer.status, timer.settled_at = "fired", now
        common = {
            "lead_id": timer.lead_id,
            "account_id": timer.account_id,
            "owner_id": timer.owner_id,
            "revision": timer.revision,
            "routed_at": timer.routed_at,
            "due_at": timer.due_at,
            "sla_name": timer.sla_name,
            "sla_minutes": timer.sla_minutes,
            "occurred_at": timer.fire_at,
        }
        if timer.kind == "reminder":
            await self.outbox.add(session, LeadSlaReminder(**common))
            _note(row, timer, now, "sla_reminder")
        elif timer.kind == "breach":
            owner = await session.get(OwnerRow, timer.owner_id) if timer.owner_id else None
            manager_id = owner.manager_id if owner else None
            await self.outbox.add(session, LeadSlaBreached(**common, manager_id=manager_id))
            _note(row, timer, now, "sla_breached", manager_id=manager_id)
        else:
            await session.flush()
            had = await store.owners_of_lead(session, timer.lead_id)
            routed = await service.reroute(
                session, self.outbox, timer.lead_id, reason="sla_reassigned",
                also_excluded=had, now=now,
            )  # fmt: skip
            if routed is None:  # closed meanwhile: nobody to hand it to, nothing to count
                return False
            await self.outbox.add(
                session,
                LeadReassigned(
                    **common,
                    from_owner_id=timer.owner_id,
                    to_owner_id=routed.owner.owner_id if routed.owner else None,
                    to_revision=routed.revision,
                    rule=routed.rule,
                    queue=routed.queue,
                ),
            )
        log.info("sla_timer_fired", kind=timer.kind, lead_id=str(timer.lead_id))
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Fire due timers until ``stop``; wake at least every ``tick_s`` seconds, or at
        the nearest due time. An outage is logged and retried; nothing is skipped."""
        backoff = 0.5
        while not stop.is_set():
            try:
                if await self.fire_due() >= self.batch_size:
                    continue
                async with self.sessions() as session:
                    due = await stages.next_due(session)
                wait = self.tick_s
                if due is not None:
                    wait = min(wait, max((due - self.clock()).total_seconds(), 0.05))
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("sla_timers_retry", error=repr(exc), backoff_s=backoff)
                wait, backoff = backoff, min(backoff * 2, 10.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)


def _note(row: LifecycleRow, timer: SlaTimerRow, now: datetime, event: str, **detail: Any) -> None:
    entry = stages.history_entry(
        row.stage,
        row.stage,
        occurred_at=timer.fire_at,
        recorded_at=now,
        source="sla",
        event=event,
        **detail,
    )
    stages.note(row, entry)
