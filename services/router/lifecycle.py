"""Moving a lead through its lifecycle, around the pure table (``domain/lifecycle.py``):

- ``change_stage``: sales (or a CRM sync) through the API, strictly. In one transaction:
  lock the lead, check the move, store it with its timestamp, cancel the SLA timers once
  the lead is answered, publish ``lead.status_changed`` and do what the move means for
  routing (a ``wrong_owner`` rejection routes the lead again; a closing stage releases
  the owner's capacity).
- ``record_fact``: a fact from the outside (a meeting update, a status published by
  another service), leniently: always kept in the history, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.router import service, stages
from services.router.domain.lifecycle import (
    IllegalTransition,
    Stage,
    awaits_acceptance,
    closes,
    record,
    reroutes,
    transition,
)
from services.router.tables import LeadRow, LifecycleRow, SlaTimerRow
from shared.events.status import LeadStage, LeadStatusChanged, RejectionReason
from shared.outbox import Outbox

__all__ = ["BeforeTheLead", "IllegalTransition", "NotRouted", "StageChange", "UnknownLead"]


class UnknownLead(LookupError):
    pass


class NotRouted(Exception):
    def __init__(self, stage: str) -> None:
        super().__init__(f"The lead is {stage} but not routed yet; try again shortly.")
        self.stage = stage


class BeforeTheLead(ValueError):
    """A stage change dated before the lead arrived (credit works in event time: a
    backdated rejection could void a firm's credit)."""


@dataclass(frozen=True)
class StageChange:
    stage: LeadStage
    reason_code: RejectionReason | None
    comment: str | None
    actor: str
    occurred_at: datetime


async def _lifecycle(
    session: AsyncSession, lead_id: UUID, now: datetime
) -> tuple[LeadRow, LifecycleRow]:
    lead, row = await stages.lock(session, lead_id)
    if row is None and lead is not None:
        row = await stages.adopt(session, lead_id, now)
    if row is None:
        raise UnknownLead(f"No lead {lead_id} is known to the router.")
    if lead is None:
        raise NotRouted(row.stage)
    return lead, row


def repeats_last_move(row: LifecycleRow, change: StageChange) -> bool:
    """The move the lead's history ends with, asked again (a client retrying after a
    timeout): answered with the lead as it is, nothing written or published twice."""
    if row.stage != change.stage or not row.history:
        return False
    last = row.history[-1]
    return (
        last.get("stage") == change.stage
        and last.get("source") == "api"
        and last.get("reason_code") == change.reason_code
        and last.get("actor") == change.actor
    )


async def change_stage(
    session: AsyncSession, outbox: Outbox, lead_id: UUID, change: StageChange, *, now: datetime
) -> LifecycleRow:
    """Inside the caller's transaction; raises ``UnknownLead``, ``NotRouted``,
    ``BeforeTheLead`` or ``IllegalTransition`` before anything is written. The same move
    repeated is a no-op."""
    lead, row = await _lifecycle(session, lead_id, now)
    if repeats_last_move(row, change):
        return row
    received_at = datetime.fromisoformat(str(lead.received["received_at"]))
    if change.occurred_at < received_at:
        raise BeforeTheLead(
            f"occurred_at {change.occurred_at.isoformat()} is before the lead was received "
            f"({received_at.isoformat()})"
        )
    current: Stage = row.stage  # type: ignore[assignment]
    stage = transition(current, change.stage)
    stages.move(
        row,
        stage,
        stages.history_entry(
            stage,
            current,
            occurred_at=change.occurred_at,
            recorded_at=now,
            source="api",
            actor=change.actor,
            reason_code=change.reason_code,
            comment=change.comment,
            owner_id=row.owner_id,
        ),
        change.occurred_at,
    )
    await session.flush()
    if not awaits_acceptance(stage):
        await stages.cancel_timers(session, lead_id, now)
    await outbox.add(
        session,
        LeadStatusChanged(
            lead_id=lead_id,
            stage=change.stage,
            reason_code=change.reason_code,
            comment=change.comment,
            actor=change.actor,
            occurred_at=change.occurred_at,
        ),
    )
    if reroutes(change.stage, change.reason_code):
        await service.reroute(
            session, outbox, lead_id, reason="owner_rejected", rejected_by=row.owner_id, now=now
        )
    elif closes(change.stage, change.reason_code):
        await service.close(session, lead_id)
    return row


async def record_fact(
    session: AsyncSession,
    lead_id: UUID,
    stage: Stage | None,
    *,
    occurred_at: datetime,
    now: datetime,
    source: str,
    actor: str | None,
    **detail: Any,
) -> None:
    """Keep an outside fact in the lead's history; move the lead if it says where the
    lead is (``stage``) and that is forward (``domain.lifecycle.record``). A lead the
    router has not seen yet gets its lifecycle row now, at ``received``."""
    lead, row = await stages.lock(session, lead_id)
    if row is None and lead is not None:
        row = await stages.adopt(session, lead_id, now)
    if row is None:
        row = LifecycleRow(lead_id=lead_id, stage="received", stage_at=occurred_at, history=[])
        session.add(row)
    current: Stage = row.stage  # type: ignore[assignment]
    if stage is None:
        entry = stages.history_entry(
            current, current, occurred_at=occurred_at, recorded_at=now, source=source,
            actor=actor, **detail,
        )  # fmt: skip
        stages.note(row, entry)
        return
    recorded = record(current, stage)
    entry = stages.history_entry(
        stage, current, occurred_at=occurred_at, recorded_at=now, source=source, actor=actor,
        in_order=recorded.in_order, **detail,
    )  # fmt: skip
    stages.move(row, recorded.stage, entry, occurred_at)
    await session.flush()
    if awaits_acceptance(current) and not awaits_acceptance(recorded.stage):
        await stages.cancel_timers(session, lead_id, now)


@dataclass(frozen=True)
class LifecycleView:
    row: LifecycleRow
    timers: list[SlaTimerRow]


async def view(session: AsyncSession, lead_id: UUID) -> LifecycleView | None:
    row = await session.get(LifecycleRow, lead_id)
    if row is None:
        return None
    return LifecycleView(row, await stages.pending_timers(session, lead_id))
