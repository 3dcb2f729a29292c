"""The lead's lifecycle row and its SLA timers in the router's schema: lock, record a
move in the history, arm and cancel timers. Called inside the caller's transaction by
routing (``service.route``), the stage API, the consumers and the timer worker.

Lock order, everywhere: the lead's row (``router.leads``), then its lifecycle row, then
its timers. The timer worker takes all three with ``SKIP LOCKED`` and so never waits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import (
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.router import store
from services.router.domain.lifecycle import Stage, awaits_acceptance, record
from services.router.domain.model import Owner, Team
from services.router.domain.ruleset import RuleSet
from services.router.domain.sla import PlannedTimer, SlaPolicy, plan, policy_for
from services.router.tables import LeadRow, LifecycleRow, SlaTimerRow
from shared.business_hours import DEFAULT_HOURS, BusinessHours
from shared.db import driver_connection
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


@dataclass(frozen=True)
class Routed:
    """A routing revision to record: ``owner`` and ``team`` (the owner's, else the
    deciding one) come from the decision's snapshot."""

    event: LeadRouted
    owner: Owner | None
    team: Team | None
    new_lead: bool


def _entries(routed: LeadRouted) -> tuple[dict[str, Any], dict[str, Any]]:
    """The history entries of a routing: the lead's receipt and the routing itself."""
    now = routed.decided_at
    entry = history_entry(
        "routed",
        "received",
        occurred_at=now,
        recorded_at=now,
        source="router",
        revision=routed.revision,
        owner_id=routed.owner.owner_id if routed.owner else None,
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
    return received, entry


async def on_routed_all(session: AsyncSession, batch: Sequence[Routed], ruleset: RuleSet) -> None:
    """Record each routing revision in its lead's lifecycle and, when the lead now waits
    for its owner's answer, arm the SLA timers in the owner's business hours (cancelling
    the previous revision's). A new lead's lifecycle row and every timer of the batch are
    one statement each; a lead whose row is there already (re-routed, or outside facts
    came first) is recorded on its own."""
    conn = await driver_connection(session)
    entries = {r.event.lead_id: _entries(r.event) for r in batch}
    new = [r for r in batch if r.new_lead]
    created: set[UUID] = set()
    if new:
        rows = await conn.fetch(
            "INSERT INTO router.lifecycles (lead_id, stage, stage_at, owner_id, revision, history) "
            "SELECT l, 'routed', t, o, v, h FROM unnest($1::uuid[], $2::timestamptz[], "
            "$3::text[], $4::int[], $5::jsonb[]) AS u(l, t, o, v, h) "
            "ON CONFLICT DO NOTHING RETURNING lead_id",
            [r.event.lead_id for r in new],
            [r.event.decided_at for r in new],
            [r.event.owner.owner_id if r.event.owner else None for r in new],
            [r.event.revision for r in new],
            [json.dumps(list(entries[r.event.lead_id])) for r in new],
        )
        created = {row[0] for row in rows}
    timers: list[Armed] = []
    for routed in batch:
        lead_id = routed.event.lead_id
        awaiting = lead_id in created or await _record_routed(
            session, routed.event, *entries[lead_id]
        )
        if awaiting and routed.owner is not None:
            timers.append(armed(routed.event, ruleset, routed.owner, routed.team))
    await add_timers(conn, timers)


@dataclass(frozen=True)
class Armed:
    """A routing's SLA timers: the lead's part, and the plan its owner's hours and SLA give
    (shared by the batch's leads routed at the same instant under the same policy)."""

    lead_id: UUID
    revision: int
    owner_id: str
    account_id: str | None
    plan: tuple[str, int, datetime, tuple[PlannedTimer, ...]]  # SLA name, minutes, routed at


async def add_timers(conn: asyncpg.Connection, timers: Sequence[Armed]) -> None:
    """Every timer of ``timers`` in one statement, sent as the leads (a row each) and their
    distinct plans (a row per timer): a batch's leads mostly share one plan, so a lead's
    three timers cost one row of arguments, not three."""
    if not timers:
        return
    plans: dict[tuple[str, int, datetime, tuple[PlannedTimer, ...]], int] = {}
    for t in timers:
        plans.setdefault(t.plan, len(plans))
    steps = [(n, p, step) for p, n in plans.items() for step in p[3]]
    await conn.execute(
        "INSERT INTO router.sla_timers (lead_id, revision, kind, owner_id, account_id, "
        "sla_name, sla_minutes, routed_at, due_at, fire_at) "
        "SELECT l.lead_id, l.revision, p.kind, l.owner_id, l.account_id, p.sla_name, "
        "p.sla_minutes, p.routed_at, p.due_at, p.fire_at "
        "FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::int[]) "
        " WITH ORDINALITY AS l(lead_id, revision, owner_id, account_id, plan, n) "
        "JOIN unnest($6::int[], $7::text[], $8::text[], $9::int[], $10::timestamptz[], "
        " $11::timestamptz[], $12::timestamptz[]) "
        " WITH ORDINALITY AS p(plan, kind, sla_name, sla_minutes, routed_at, due_at, fire_at, m) "
        " ON p.plan = l.plan ORDER BY l.n, p.m",
        [t.lead_id for t in timers],
        [t.revision for t in timers],
        [t.owner_id for t in timers],
        [t.account_id for t in timers],
        [plans[t.plan] for t in timers],
        [n for n, _, _ in steps],
        [step.kind for _, _, step in steps],
        [p[0] for _, p, _ in steps],
        [p[1] for _, p, _ in steps],
        [p[2] for _, p, _ in steps],
        [step.due_at for _, _, step in steps],
        [step.fire_at for _, _, step in steps],
    )


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


def armed(routed: LeadRouted, ruleset: RuleSet, owner: Owner, team: Team | None) -> Armed:
    """The SLA timers of this routing, in the owner's business hours."""
    policy = policy_for(ruleset.rule_sla(routed.rule), team.sla if team else None, ruleset.sla)
    planned = _planned(policy, owner.business_hours or DEFAULT_HOURS, routed.decided_at)
    return Armed(
        routed.lead_id,
        routed.revision,
        owner.owner_id,
        routed.account.account_id if routed.account else None,
        (policy.name, policy.accept_within_minutes, routed.decided_at, planned),
    )


@lru_cache(maxsize=4096)
def _planned(
    policy: SlaPolicy, hours: BusinessHours, routed_at: datetime
) -> tuple[PlannedTimer, ...]:
    """The timers, worked out once for the leads of a batch (routed at the same instant)
    whose owners keep the same hours under the same SLA."""
    return tuple(plan(policy, hours.calendar(), routed_at))


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
