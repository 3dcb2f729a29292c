"""Router's queries: the accounts a lead can reach, round-robin counters under row
locks, routing decisions (one row per revision, never overwritten) and rule sets.
Rows are mapped to the domain model here and never leave this module's callers' edges.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.router.domain.model import (
    Account,
    FirmAssignment,
    Lead,
    OutOfOffice,
    Owner,
)
from services.router.domain.names import name_block, registrable_domain
from services.router.domain.ruleset import RuleSet, default_ruleset, parse_ruleset
from services.router.tables import (
    SCHEMA,
    AccountRow,
    LeadRow,
    OwnerRow,
    RoundRobinRow,
    RoutingDecisionRow,
    RuleSetRow,
)

__all__ = ["SCHEMA", "AccountRow", "OwnerRow", "RoutingDecisionRow"]

NAME_CANDIDATES = 500  # per name block: enough for real blocks, bounded for odd ones
MAX_DEPTH = 10  # account hierarchy levels followed


def account_of(row: AccountRow) -> Account:
    assignment = None
    if row.firm_id and row.firm_starts_on:
        assignment = FirmAssignment(
            row.firm_id,
            row.firm_starts_on,
            row.firm_ends_on,
            row.firm_notice_ends_on,
            row.firm_cross_sell,
        )
    return Account(
        account_id=row.id,
        name=row.name,
        domains=frozenset(row.domains),
        owner_id=row.owner_id,
        account_manager_id=row.account_manager_id,
        parent_id=row.parent_id,
        customer=row.customer,
        country=row.country,
        region=row.region,
        state=row.state,
        employees=row.employees,
        industry=row.industry,
        firm_assignment=assignment,
    )


def owner_of(row: OwnerRow) -> Owner:
    windows = tuple(
        OutOfOffice(date.fromisoformat(w["starts_on"]), date.fromisoformat(w["ends_on"]))
        for w in row.out_of_office
    )
    return Owner(
        owner_id=row.id,
        name=row.name,
        role=row.role,
        active=row.active,
        team_id=row.team_id,
        manager_id=row.manager_id,
        capacity=row.capacity,
        weight=row.weight,
        out_of_office=windows,
        open_leads=row.open_leads,
        business_hours=row.business_hours,
    )


async def candidate_accounts(session: AsyncSession, lead: Lead) -> dict[str, Account]:
    """The accounts ``lead`` could match (by domain or name block) and their ancestors."""
    conditions = []
    if lead.email_domain:
        conditions.append(
            AccountRow.domains.contains([registrable_domain(lead.email_domain)])  # type: ignore[attr-defined]
        )
    if lead.company and (block := name_block(lead.company)):
        conditions.append(AccountRow.name_block == block)
    if not conditions:
        return {}
    rows = (
        await session.execute(
            select(AccountRow)
            .where(or_(*conditions))
            .order_by(col(AccountRow.id))  # a stable pick when a block is over the limit
            .limit(NAME_CANDIDATES)
        )
    ).scalars()
    found = {row.id: account_of(row) for row in rows}
    wanted = {a.parent_id for a in found.values() if a.parent_id} - found.keys()
    for _ in range(MAX_DEPTH):
        if not wanted:
            break
        parents = (
            await session.execute(select(AccountRow).where(AccountRow.id.in_(wanted)))  # type: ignore[attr-defined]
        ).scalars()
        for row in parents:
            found[row.id] = account_of(row)
        wanted = {a.parent_id for a in found.values() if a.parent_id} - found.keys()
    return found


async def lock_round_robin(session: AsyncSession, team_ids: Iterable[str]) -> None:
    """Take the teams' rotation locks (a row per team, owner id ''), in a fixed order so
    two instances never deadlock. Held to the end of the transaction. One statement per
    team: the upsert creates the row or locks the one there (keeping its counter)."""
    for team_id in sorted(set(team_ids)):
        await session.execute(
            insert(RoundRobinRow)
            .values(team_id=team_id, owner_id="", counter=0)
            .on_conflict_do_update(
                index_elements=["team_id", "owner_id"],
                set_={"counter": col(RoundRobinRow.counter)},
            )
        )


async def save_round_robin(session: AsyncSession, updates: dict[tuple[str, str], int]) -> None:
    if not updates:
        return
    statement = insert(RoundRobinRow).values(
        [
            {"team_id": team_id, "owner_id": owner_id, "counter": counter}
            for (team_id, owner_id), counter in sorted(updates.items())
        ]
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["team_id", "owner_id"], set_={"counter": statement.excluded.counter}
        )
    )


async def move_open_lead(session: AsyncSession, from_id: str | None, to_id: str | None) -> None:
    """Keep owners' open-lead counts (capacity) in step with decisions."""
    if from_id == to_id:
        return
    if from_id:
        await session.execute(
            update(OwnerRow)
            .where(OwnerRow.id == from_id, OwnerRow.open_leads > 0)  # type: ignore[arg-type]
            .values(open_leads=OwnerRow.open_leads - 1)
        )
    if to_id:
        await session.execute(
            update(OwnerRow)
            .where(OwnerRow.id == to_id)  # type: ignore[arg-type]
            .values(open_leads=OwnerRow.open_leads + 1)
        )


async def latest_decision(session: AsyncSession, lead_id: UUID) -> RoutingDecisionRow | None:
    query = (
        select(RoutingDecisionRow)
        .where(RoutingDecisionRow.lead_id == lead_id)  # type: ignore[arg-type]
        .order_by(RoutingDecisionRow.revision.desc())  # type: ignore[attr-defined]
        .limit(1)
    )
    return (await session.execute(query)).scalars().first()


async def decision_count(session: AsyncSession, lead_id: UUID) -> int:
    query = select(func.count()).where(RoutingDecisionRow.lead_id == lead_id)  # type: ignore[arg-type]
    return int(await session.scalar(query) or 0)


async def leads_on_account(session: AsyncSession, account_id: str, limit: int) -> list[UUID]:
    """Leads whose current decision is on ``account_id`` (candidates for re-routing)."""
    latest = (
        select(
            col(RoutingDecisionRow.lead_id),
            col(RoutingDecisionRow.account_id),
            func.row_number()
            .over(
                partition_by=col(RoutingDecisionRow.lead_id),
                order_by=col(RoutingDecisionRow.revision).desc(),
            )
            .label("n"),
        )
        .where(
            col(RoutingDecisionRow.lead_id).in_(
                select(col(RoutingDecisionRow.lead_id)).where(
                    col(RoutingDecisionRow.account_id) == account_id
                )
            )
        )
        .subquery()
    )
    query = (
        select(latest.c.lead_id)
        .where(latest.c.n == 1, latest.c.account_id == account_id)
        .order_by(latest.c.lead_id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def add_lead(session: AsyncSession, lead_id: UUID, received: dict[str, Any]) -> bool:
    """Keep the lead as it arrived; False when it was there already (one statement: a
    second instance inserting the same lead waits for the first and gets False)."""
    added = await session.scalar(
        insert(LeadRow)
        .values(lead_id=lead_id, received=received, rejected_by=[], closed=False)
        .on_conflict_do_nothing()
        .returning(col(LeadRow.lead_id))
    )
    return added is not None


async def lead_row(session: AsyncSession, lead_id: UUID, *, lock: bool = False) -> LeadRow | None:
    query = select(LeadRow).where(LeadRow.lead_id == lead_id)  # type: ignore[arg-type]
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalars().first()


# Rule sets ---------------------------------------------------------------------------

_PARSED: dict[str, RuleSet] = {}  # versions are immutable once stored: safe to cache


async def active_ruleset(session: AsyncSession) -> RuleSet:
    """The active rule set; the bundled default when none was ever activated."""
    row = (
        (await session.execute(select(RuleSetRow).where(col(RuleSetRow.active).is_(True))))
        .scalars()
        .first()
    )
    if row is None:
        return default_ruleset()
    return ruleset_of(row)


def ruleset_of(row: RuleSetRow) -> RuleSet:
    if row.version not in _PARSED:
        _PARSED[row.version] = RuleSet.model_validate(row.body)
    return _PARSED[row.version]


async def ruleset(session: AsyncSession, version: str) -> RuleSet | None:
    row = await session.get(RuleSetRow, version)
    if row is not None:
        return ruleset_of(row)
    fallback = default_ruleset()
    return fallback if fallback.version == version else None


async def list_rulesets(session: AsyncSession) -> list[RuleSetRow]:
    query = select(RuleSetRow).order_by(RuleSetRow.created_at, RuleSetRow.version)  # type: ignore[arg-type]
    return list((await session.execute(query)).scalars())


async def save_ruleset(session: AsyncSession, source: str) -> tuple[RuleSet, bool]:
    """Validate and store a rule set (inactive). Returns it and whether it was new;
    an existing version with a different body is refused (versions are immutable)."""
    parsed = parse_ruleset(source)
    existing = await session.get(RuleSetRow, parsed.version)
    if existing is not None:
        if RuleSet.model_validate(existing.body) != parsed:
            raise ValueError(f"version {parsed.version} exists with other rules; bump it")
        return parsed, False
    session.add(
        RuleSetRow(version=parsed.version, body=parsed.model_dump(mode="json"), source=source)
    )
    return parsed, True


async def activate_ruleset(session: AsyncSession, version: str, at: datetime) -> bool:
    row = await session.get(RuleSetRow, version, with_for_update=True)
    if row is None:
        return False
    await session.execute(
        update(RuleSetRow).where(col(RuleSetRow.active).is_(True)).values(active=False)
    )
    await session.flush()
    row.active = True
    row.activated_at = at
    return True


async def owners_of_lead(session: AsyncSession, lead_id: UUID) -> set[str]:
    """Every owner any revision of the lead's routing gave it to."""
    query = select(col(RoutingDecisionRow.owner_id)).where(
        col(RoutingDecisionRow.lead_id) == lead_id, col(RoutingDecisionRow.owner_id).is_not(None)
    )
    return {o for o in (await session.execute(query)).scalars() if o}
