"""Router's queries: the accounts a lead can reach, round-robin counters under row
locks, routing decisions (one row per revision, never overwritten) and rule sets.
Rows are mapped to the domain model here and never leave this module's callers' edges.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.router.domain.model import (
    Account,
    Decision,
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
    BacktestRow,
    LeadRow,
    OwnerRow,
    RoutingDecisionRow,
    RuleSetRow,
)
from shared.business_hours import BusinessHours
from shared.events.leads import LeadReceived
from shared.events.routing import LeadRouted

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
        business_hours=BusinessHours.model_validate(row.business_hours)
        if row.business_hours
        else None,
    )


_ACCOUNT_COLUMNS = (
    "id, name, domains, owner_id, account_manager_id, parent_id, customer, country, region, "
    "state, employees, industry, firm_id, firm_starts_on, firm_ends_on, firm_notice_ends_on, "
    "firm_cross_sell, name_block"
)
_BY_DOMAIN = f"SELECT {_ACCOUNT_COLUMNS} FROM router.accounts WHERE domains && $1::varchar[]"  # noqa: S608
_BY_BLOCK = (
    f"SELECT {_ACCOUNT_COLUMNS} FROM ("  # noqa: S608
    f"SELECT {_ACCOUNT_COLUMNS}, row_number() OVER (PARTITION BY name_block ORDER BY id) AS n "
    "FROM router.accounts WHERE name_block = ANY($1::text[])) AS a WHERE n <= $2"
)
_BY_ID = f"SELECT {_ACCOUNT_COLUMNS} FROM router.accounts WHERE id = ANY($1::text[])"  # noqa: S608


def _account_of_record(row: asyncpg.Record) -> tuple[Account, str]:
    assignment = None
    if row["firm_id"] and row["firm_starts_on"]:
        assignment = FirmAssignment(
            row["firm_id"],
            row["firm_starts_on"],
            row["firm_ends_on"],
            row["firm_notice_ends_on"],
            row["firm_cross_sell"],
        )
    account = Account(
        account_id=row["id"],
        name=row["name"],
        domains=frozenset(row["domains"]),
        owner_id=row["owner_id"],
        account_manager_id=row["account_manager_id"],
        parent_id=row["parent_id"],
        customer=row["customer"],
        country=row["country"],
        region=row["region"],
        state=row["state"],
        employees=row["employees"],
        industry=row["industry"],
        firm_assignment=assignment,
    )
    return account, row["name_block"]


async def candidate_accounts_of(
    conn: asyncpg.Connection, leads: Sequence[Lead]
) -> dict[UUID, dict[str, Account]]:
    """For each lead, the accounts it could match (its registrable domain among theirs, or
    its company's name block, at most ``NAME_CANDIDATES`` a block) and their ancestors:
    a few statements for the whole batch, whatever its size."""
    domains = {
        lead.lead_id: registrable_domain(lead.email_domain) for lead in leads if lead.email_domain
    }
    blocks = {
        lead.lead_id: block
        for lead in leads
        if lead.company and (block := name_block(lead.company))
    }
    found: dict[str, tuple[Account, str]] = {}
    if domains:
        for row in await conn.fetch(_BY_DOMAIN, sorted(set(domains.values()))):
            found[row["id"]] = _account_of_record(row)
    if blocks:
        for row in await conn.fetch(_BY_BLOCK, sorted(set(blocks.values())), NAME_CANDIDATES):
            found[row["id"]] = _account_of_record(row)
    wanted = {a.parent_id for a, _ in found.values() if a.parent_id} - found.keys()
    for _ in range(MAX_DEPTH):
        if not wanted:
            break
        for row in await conn.fetch(_BY_ID, sorted(wanted)):
            found[row["id"]] = _account_of_record(row)
        wanted = {a.parent_id for a, _ in found.values() if a.parent_id} - found.keys()
    per_lead: dict[UUID, dict[str, Account]] = {}
    for lead in leads:
        its_domain, its_block = domains.get(lead.lead_id), blocks.get(lead.lead_id)
        mine = {
            account_id: account
            for account_id, (account, account_block) in found.items()
            if (its_domain is not None and its_domain in account.domains)
            or (its_block is not None and account_block == its_block)
        }
        wanted = {a.parent_id for a in mine.values() if a.parent_id} - mine.keys()
        for _ in range(MAX_DEPTH):
            if not wanted:
                break
            mine.update({p: found[p][0] for p in wanted if p in found})
            wanted = {a.parent_id for a in mine.values() if a.parent_id} - mine.keys()
            wanted &= found.keys()
        per_lead[lead.lead_id] = mine
    return per_lead


async def lock_round_robin(conn: asyncpg.Connection, team_ids: Iterable[str]) -> None:
    """Take the teams' rotation locks (a row per team, owner id ''), in a fixed order so
    two instances never deadlock, in one statement: the upsert creates each row or locks
    the one there (keeping its counter). Held to the end of the transaction."""
    await conn.execute(
        "INSERT INTO router.round_robin (team_id, owner_id, counter) "
        "SELECT t, '', 0 FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n "
        "ON CONFLICT (team_id, owner_id) DO UPDATE SET counter = router.round_robin.counter",
        sorted(set(team_ids)),
    )


async def save_round_robin(
    conn: asyncpg.Connection, updates: Mapping[tuple[str, str], int]
) -> None:
    if not updates:
        return
    keys = sorted(updates)
    await conn.execute(
        "INSERT INTO router.round_robin (team_id, owner_id, counter) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) "
        "ON CONFLICT (team_id, owner_id) DO UPDATE SET counter = excluded.counter",
        [t for t, _ in keys],
        [o for _, o in keys],
        [updates[k] for k in keys],
    )


async def move_open_leads(
    conn: asyncpg.Connection, moves: Iterable[tuple[str | None, str | None]]
) -> None:
    """Keep owners' open-lead counts (capacity) in step with decisions: each move takes
    one from its first owner (never below 0) and gives one to its second, in one
    statement for all of them."""
    delta: dict[str, int] = {}
    for from_id, to_id in moves:
        if from_id == to_id:
            continue
        if from_id:
            delta[from_id] = delta.get(from_id, 0) - 1
        if to_id:
            delta[to_id] = delta.get(to_id, 0) + 1
    changed = sorted(k for k, v in delta.items() if v)
    if not changed:
        return
    await conn.execute(
        "UPDATE router.owners o SET open_leads = greatest(0, o.open_leads + d.n) "
        "FROM unnest($1::text[], $2::int[]) AS d(id, n) WHERE o.id = d.id",
        changed,
        [delta[k] for k in changed],
    )


async def add_decisions(
    conn: asyncpg.Connection, decided: Sequence[tuple[Decision, LeadRouted, str]]
) -> None:
    """Each decision as its revision's row (never an overwrite), in one statement; with its
    event, and that event's JSON (``model_dump_json``, written once for the row and the
    outbox)."""
    if not decided:
        return
    await conn.execute(
        "INSERT INTO router.routing_decisions (lead_id, revision, decided_at, account_id, "
        "owner_id, team_id, rule, queue, ruleset_version, event) "
        "SELECT * FROM unnest($1::uuid[], $2::int[], $3::timestamptz[], $4::text[], $5::text[], "
        "$6::text[], $7::text[], $8::text[], $9::text[], $10::jsonb[])",
        [e.lead_id for _, e, _ in decided],
        [e.revision for _, e, _ in decided],
        [e.decided_at for _, e, _ in decided],
        [
            d.match.account.account_id if d.match and not d.match.weak else None
            for d, _, _ in decided
        ],
        [d.owner.owner_id if d.owner else None for d, _, _ in decided],
        [d.team.team_id if d.team else None for d, _, _ in decided],
        [d.rule for d, _, _ in decided],
        [d.queue for d, _, _ in decided],
        [d.ruleset_version for d, _, _ in decided],
        [payload for _, _, payload in decided],
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


async def add_leads(conn: asyncpg.Connection, leads: Sequence[LeadReceived]) -> set[UUID]:
    """Keep each lead as it arrived; the ids that were not there already (one statement:
    a second instance inserting the same lead waits for the first and gets none)."""
    if not leads:
        return set()
    rows = await conn.fetch(
        "INSERT INTO router.leads (lead_id, received, rejected_by, closed) "
        "SELECT l, r, '{}', false FROM unnest($1::uuid[], $2::jsonb[]) AS u(l, r) "
        "ON CONFLICT DO NOTHING RETURNING lead_id",
        [lead.lead_id for lead in leads],
        [lead.model_dump_json() for lead in leads],
    )
    return {r[0] for r in rows}


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


# --- backtests ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FirstDecision:
    """A lead as it came in and its first routing decision, as stored (``lead.received``
    and ``lead.routed`` data, not parsed: a backtest reads only some of their fields)."""

    received: Mapping[str, Any]
    decided_at: datetime
    event: Mapping[str, Any]


async def leads_received_between(conn: asyncpg.Connection, start: datetime, end: datetime) -> int:
    found = await conn.fetchval(
        "SELECT count(*) FROM router.leads l"
        " WHERE (l.received->>'received_at')::timestamptz >= $1"
        "   AND (l.received->>'received_at')::timestamptz < $2",
        start,
        end,
    )
    return int(found or 0)


async def first_decisions_between(
    conn: asyncpg.Connection, start: datetime, end: datetime, chunk: int
) -> AsyncIterator[list[FirstDecision]]:
    """The leads received in [``start``, ``end``), in the order they came in, each with
    the first routing decision they got (revision 1): ``chunk`` at a time through a
    server-side cursor (inside the caller's transaction)."""
    cursor = await conn.cursor(
        "SELECT l.received, d.decided_at, d.event FROM router.leads l"
        " JOIN router.routing_decisions d ON d.lead_id = l.lead_id AND d.revision = 1"
        " WHERE (l.received->>'received_at')::timestamptz >= $1"
        "   AND (l.received->>'received_at')::timestamptz < $2"
        " ORDER BY (l.received->>'received_at')::timestamptz, l.lead_id",
        start,
        end,
    )
    while rows := await cursor.fetch(chunk):
        yield [
            FirstDecision(_json(r["received"]), r["decided_at"], _json(r["event"])) for r in rows
        ]


def _json(value: object) -> Mapping[str, Any]:
    """A JSONB column as the driver gives it (decoded, or text without a codec)."""
    if isinstance(value, str | bytes):
        found: Mapping[str, Any] = json.loads(value)
        return found
    assert isinstance(value, Mapping)
    return value


async def round_robin_picks_since(
    conn: asyncpg.Connection, start: datetime
) -> dict[tuple[str, str], int]:
    """The round-robin picks (team, owner) of every routing decision of the leads received
    since ``start``: what the counters grew by since then."""
    rows = await conn.fetch(
        "SELECT d.team_id, d.owner_id, count(*) AS n FROM router.routing_decisions d"
        " JOIN router.leads l ON l.lead_id = d.lead_id"
        " WHERE (l.received->>'received_at')::timestamptz >= $1"
        "   AND d.team_id IS NOT NULL AND d.owner_id IS NOT NULL"
        "   AND EXISTS (SELECT 1 FROM jsonb_array_elements(d.event->'trace') s"
        "               WHERE s->>'rule' = 'round_robin' AND (s->>'matched')::boolean)"
        " GROUP BY d.team_id, d.owner_id",
        start,
    )
    return {(r["team_id"], r["owner_id"]): int(r["n"]) for r in rows}


async def recent_backtest(
    session: AsyncSession, version: str, since: datetime
) -> BacktestRow | None:
    """The latest finished backtest of the stored rule set ``version`` run since ``since``."""
    query = (
        select(BacktestRow)
        .where(
            col(BacktestRow.ruleset_version) == version,
            col(BacktestRow.ran_at) >= since,
            col(BacktestRow.status) == "done",
        )
        .order_by(col(BacktestRow.ran_at).desc())
        .limit(1)
    )
    return (await session.execute(query)).scalars().first()


async def backtest_of(session: AsyncSession, backtest_id: UUID) -> BacktestRow | None:
    return await session.get(BacktestRow, backtest_id, populate_existing=True)


async def backtests(session: AsyncSession, limit: int) -> list[BacktestRow]:
    """The latest backtests, newest first."""
    query = select(BacktestRow).order_by(col(BacktestRow.ran_at).desc()).limit(limit)
    return list((await session.execute(query)).scalars())
