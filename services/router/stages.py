"""The lead's lifecycle row and its SLA timers in the router's schema: lock, record a
move in the history, arm and cancel timers. Called inside the caller's transaction by
routing (``service.route``), the stage API, the consumers and the timer worker.

Lock order, everywhere: the lead's row (``router.leads``), then its lifecycle row, then
its timers. The timer worker takes all three with ``SKIP LOCKED`` and so never waits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.router import store
from services.router.domain.lifecycle import Stage, awaits_acceptance, record
from services.router.domain.model import Owner, Team
from services.router.domain.ruleset import RuleSet
from services.router.domain.sla import DEFAULT_HOURS, BusinessHours, SlaPolicy, plan, policy_for
from services.router.tables import LeadRow, LifecycleRow, SlaTimerRow
from shared.events.routing import LeadRouted


def history_entry(
    stage: str,
    previous: str | None,
    *,
    occurred_at: datetime,
    recorded_at: datetime,
    source: str,
    actor: str | None = None,
    in_order: bool = True,
    **detail: Any,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "stage": stage,
        "from": previous,
        "occurred_at": occurred_at.isoformat(),
        "recorded_at": recorded_at.isoformat(),
        "source": source,
        "actor": actor,
        "in_order": in_order,
    }
    entry.update({k: v for k, v in detail.items() if v is not None})
    return entry


async def lock(session: AsyncSession, lead_id: UUID) -> tuple[LeadRow | None, LifecycleRow | None]:
    """The lead's row and lifecycle row, locked in that order (either may be missing)."""
    lead = await store.lead_row(session, lead_id, lock=True)
    query = select(LifecycleRow).where(col(LifecycleRow.lead_id) == lead_id).with_for_update()
    return lead, (await session.execute(query)).scalars().first()


async def adopt(session: AsyncSession, lead_id: UUID, now: datetime) -> LifecycleRow | None:
    """A lifecycle row for a lead routed before lifecycles were kept: at ``routed``."""
    latest = await store.latest_decision(session, lead_id)
    if latest is None:
        return None
    row = LifecycleRow(
        lead_id=lead_id,
        stage="routed",
        stage_at=latest.decided_at,
        owner_id=latest.owner_id,
        revision=latest.revision,
        history=[
            history_entry(
                "routed",
                None,
                occurred_at=latest.decided_at,
                recorded_at=now,
                source="router",
                revision=latest.revision,
                owner_id=latest.owner_id,
            )
        ],
    )
    session.add(row)
    await session.flush()
    return row


def move(row: LifecycleRow, stage: Stage, entry: dict[str, Any], at: datetime) -> None:
    if stage != row.stage:
        row.stage_at = at
    row.stage = stage
    row.history = [*row.history, entry]


def note(row: LifecycleRow, entry: dict[str, Any]) -> None:
    row.history = [*row.history, entry]


async def cancel_timers(session: AsyncSession, lead_id: UUID, now: datetime) -> None:
    await session.execute(
        update(SlaTimerRow)
        .where(col(SlaTimerRow.lead_id) == lead_id, col(SlaTimerRow.status) == "pending")
        .values(status="cancelled", settled_at=now)
    )


async def on_routed(
    session: AsyncSession,
    routed: LeadRouted,
    ruleset: RuleSet,
    *,
    owner: Owner | None,
    team: Team | None,
    new_lead: bool,
) -> None:
    """Record a routing revision in the lifecycle and, when the lead now waits for its
    owner's answer, arm the SLA timers in the owner's business hours (cancelling the
    previous revision's). ``owner`` and ``team`` (the owner's, else the deciding one)
    come from the decision's snapshot: a new lead costs two inserts and no reads (one
    statement with a data-modifying CTE was tried: slower, SQLAlchemy compiles it each
    time)."""
    now = routed.decided_at
    owner_id = routed.owner.owner_id if routed.owner else None
    entry = history_entry(
        "routed",
        "received",
        occurred_at=now,
        recorded_at=now,
        source="router",
        revision=routed.revision,
        owner_id=owner_id,
        queue=routed.queue,
        reason=routed.reason,
    )
    received = history_entry(
        "received",
        None,
        occurred_at=routed.lead_received_at,
        recorded_at=now,
        source="leads.received",
        channel=routed.channel,
    )
    created = new_lead and await session.scalar(
        insert(LifecycleRow)
        .values(
            lead_id=routed.lead_id,
            stage="routed",
            stage_at=now,
            owner_id=owner_id,
            revision=routed.revision,
            history=[received, entry],
        )
        .on_conflict_do_nothing()
        .returning(col(LifecycleRow.lead_id))
    )
    # Re-routed, or outside facts about the lead came first: the row is there already.
    if not created and not await _record_routed(session, routed, received, entry):
        return  # the lead is past waiting for acceptance: no SLA
    if owner is not None:
        await arm_timers(session, routed, ruleset, owner, team)


async def _record_routed(
    session: AsyncSession, routed: LeadRouted, received: dict[str, Any], entry: dict[str, Any]
) -> bool:
    """Record a revision in an existing lifecycle (or one of a lead routed before they
    were kept) and cancel the previous revision's timers. True when the lead now waits
    for its owner's answer."""
    now = routed.decided_at
    _, row = await lock(session, routed.lead_id)
    if row is None:
        row = LifecycleRow(lead_id=routed.lead_id, stage="received", stage_at=now, history=[])
        session.add(row)
        note(row, received)
    recorded = record(row.stage, "routed")  # type: ignore[arg-type]
    entry["from"], entry["in_order"] = row.stage, recorded.in_order
    move(row, recorded.stage, entry, now)
    row.owner_id, row.revision = entry.get("owner_id"), routed.revision
    await session.flush()
    await cancel_timers(session, routed.lead_id, now)
    return awaits_acceptance(recorded.stage)


def timer_rows(
    routed: LeadRouted, ruleset: RuleSet, owner: Owner, team: Team | None
) -> list[dict[str, Any]]:
    """The SLA timers of this routing, in the owner's business hours."""
    policy = policy_for(
        ruleset.rule_sla(routed.rule),
        SlaPolicy.model_validate(team.sla) if team and team.sla else None,
        ruleset.sla,
    )
    timers = plan(policy, _hours(owner.business_hours).calendar(), routed.decided_at)
    return [
        {
            "lead_id": routed.lead_id,
            "revision": routed.revision,
            "kind": t.kind,
            "owner_id": owner.owner_id,
            "account_id": routed.account.account_id if routed.account else None,
            "sla_name": policy.name,
            "sla_minutes": policy.accept_within_minutes,
            "routed_at": routed.decided_at,
            "due_at": t.due_at,
            "fire_at": t.fire_at,
        }
        for t in timers
    ]


async def arm_timers(
    session: AsyncSession, routed: LeadRouted, ruleset: RuleSet, owner: Owner, team: Team | None
) -> None:
    await session.execute(insert(SlaTimerRow).values(timer_rows(routed, ruleset, owner, team)))


def _hours(data: Mapping[str, Any] | None) -> BusinessHours:
    return BusinessHours.model_validate(data) if data else DEFAULT_HOURS


async def pending_timers(session: AsyncSession, lead_id: UUID) -> list[SlaTimerRow]:
    query = (
        select(SlaTimerRow)
        .where(col(SlaTimerRow.lead_id) == lead_id, col(SlaTimerRow.status) == "pending")
        .order_by(col(SlaTimerRow.fire_at), col(SlaTimerRow.id))
    )
    return list((await session.execute(query)).scalars())


async def next_due(session: AsyncSession) -> datetime | None:
    query = select(func.min(SlaTimerRow.fire_at)).where(col(SlaTimerRow.status) == "pending")
    found: datetime | None = await session.scalar(query)
    return found
