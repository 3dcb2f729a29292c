"""Configuring routing: accounts, owners, teams and territories, upserted by id.

An account that changes hands (owning AE, account manager, customer flag or firm
assignment) has its leads routed again, each as a new revision.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.router import service
from services.router.domain.names import name_block
from services.router.schemas import (
    AccountIn,
    AccountOut,
    FirmAssignmentIn,
    OutOfOfficeIn,
    OwnerChannelsIn,
    OwnerIn,
    OwnerOut,
    TeamIn,
    TeamOut,
    TerritoryIn,
    TerritoryOut,
)
from services.router.tables import AccountRow, OwnerRow, TeamRow, TerritoryRow
from shared.events.envelope import utcnow
from shared.events.owners import OwnerChannels, OwnerUpdated
from shared.outbox import Outbox

REROUTE_LIMIT = 1000  # leads re-routed per account change, per request
_HANDS = ("owner_id", "account_manager_id", "customer", "firm_id", "firm_starts_on",
          "firm_ends_on", "firm_notice_ends_on", "firm_cross_sell")  # fmt: skip


class InvalidReference(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def account_values(account_id: str, body: AccountIn) -> dict[str, Any]:
    firm = body.firm
    return {
        "id": account_id,
        "name": body.name,
        "domains": body.domains,
        "parent_id": body.parent_id,
        "customer": body.customer,
        "owner_id": body.owner_id,
        "account_manager_id": body.account_manager_id,
        "country": body.country,
        "region": body.region,
        "state": body.state,
        "employees": body.employees,
        "industry": body.industry,
        "firm_id": firm.firm_id if firm else None,
        "firm_starts_on": firm.starts_on if firm else None,
        "firm_ends_on": firm.ends_on if firm else None,
        "firm_notice_ends_on": firm.notice_ends_on if firm else None,
        "firm_cross_sell": firm.cross_sell if firm else False,
        "name_block": name_block(body.name),
    }


def account_out(row: AccountRow, rerouted: int = 0) -> AccountOut:
    firm = (
        FirmAssignmentIn(
            firm_id=row.firm_id,
            starts_on=row.firm_starts_on,
            ends_on=row.firm_ends_on,
            notice_ends_on=row.firm_notice_ends_on,
            cross_sell=row.firm_cross_sell,
        )
        if row.firm_id and row.firm_starts_on
        else None
    )
    return AccountOut.model_construct(
        account_id=row.id,
        name=row.name,
        domains=list(row.domains),
        parent_id=row.parent_id,
        customer=row.customer,
        owner_id=row.owner_id,
        account_manager_id=row.account_manager_id,
        country=row.country,
        region=row.region,
        state=row.state,
        employees=row.employees,
        industry=row.industry,
        firm=firm,
        rerouted=rerouted,
    )


async def _check_parent(session: AsyncSession, account_id: str, parent_id: str | None) -> None:
    seen = {account_id}
    while parent_id is not None:
        if parent_id in seen:
            raise InvalidReference("parent_id", "would make a cycle in the account hierarchy")
        parent = await session.get(AccountRow, parent_id)
        if parent is None:
            raise InvalidReference("parent_id", f"no account {parent_id}")
        seen.add(parent_id)
        parent_id = parent.parent_id


async def put_account(
    session: AsyncSession, outbox: Outbox, account_id: str, body: AccountIn
) -> AccountOut:
    for field in ("owner_id", "account_manager_id"):
        owner_id = getattr(body, field)
        if owner_id is not None and await session.get(OwnerRow, owner_id) is None:
            raise InvalidReference(field, f"no owner {owner_id}")
    await _check_parent(session, account_id, body.parent_id)
    before = await session.get(AccountRow, account_id, with_for_update=True)
    old = {k: getattr(before, k) for k in _HANDS} if before else None
    values = account_values(account_id, body)
    statement = insert(AccountRow).values(**values)
    await session.execute(statement.on_conflict_do_update(index_elements=["id"], set_=values))
    session.expire_all()  # the core upsert bypassed the identity map: reload from here on
    rerouted = 0
    if old is not None and old != {k: values[k] for k in _HANDS}:
        rerouted = await reroute_account(session, outbox, account_id)
    row = await session.get(AccountRow, account_id, populate_existing=True)
    assert row is not None
    return account_out(row, rerouted)


async def reroute_account(session: AsyncSession, outbox: Outbox, account_id: str) -> int:
    """Route the account's leads again (each a new revision). Returns how many."""
    from services.router import store

    lead_ids = await store.leads_on_account(session, account_id, REROUTE_LIMIT)
    for lead_id in lead_ids:
        # A hand-over can move many leads: they travel in the bulk lane.
        await service.reroute(session, outbox, lead_id, reason="account_changed", bulk=True)
    return len(lead_ids)


async def get_account(session: AsyncSession, account_id: str) -> AccountOut | None:
    row = await session.get(AccountRow, account_id)
    return account_out(row) if row else None


async def accounts_with_domain(session: AsyncSession, domain: str, limit: int) -> list[AccountOut]:
    query = (
        select(AccountRow)
        .where(AccountRow.domains.contains([domain]))  # type: ignore[attr-defined]
        .order_by(AccountRow.id)
        .limit(limit)
    )
    return [account_out(row) for row in (await session.execute(query)).scalars()]


def owner_out(row: OwnerRow) -> OwnerOut:
    return OwnerOut(
        owner_id=row.id,
        name=row.name,
        role=row.role,
        active=row.active,
        team_id=row.team_id,
        manager_id=row.manager_id,
        capacity=row.capacity,
        weight=row.weight,
        out_of_office=[OutOfOfficeIn.model_validate(w) for w in row.out_of_office],
        open_leads=row.open_leads,
        business_hours=row.business_hours,
        notify=OwnerChannelsIn.model_validate(row.notify),
    )


def owner_updated(owner: OwnerOut, at: datetime) -> OwnerUpdated:
    """The owner's record for the directory on ``owners.updated`` (ops' notifier)."""
    return OwnerUpdated(
        owner_id=owner.owner_id,
        name=owner.name,
        role=owner.role,
        active=owner.active,
        team_id=owner.team_id,
        manager_id=owner.manager_id,
        business_hours=owner.business_hours.model_dump(mode="json")
        if owner.business_hours
        else None,
        notify=OwnerChannels.model_validate(owner.notify.model_dump(mode="json")),
        updated_at=at,
    )


async def put_owner(
    session: AsyncSession, outbox: Outbox, owner_id: str, body: OwnerIn
) -> OwnerOut:
    """Create or replace the owner, and publish the record (in the same transaction)."""
    if body.team_id is not None and await session.get(TeamRow, body.team_id) is None:
        raise InvalidReference("team_id", f"no team {body.team_id}")
    if body.manager_id is not None:
        if body.manager_id == owner_id:
            raise InvalidReference("manager_id", "an owner cannot manage themself")
        if await session.get(OwnerRow, body.manager_id) is None:
            raise InvalidReference("manager_id", f"no owner {body.manager_id}")
    values = body.model_dump(mode="json") | {"id": owner_id}
    statement = insert(OwnerRow).values(**values)
    await session.execute(statement.on_conflict_do_update(index_elements=["id"], set_=values))
    row = await session.get(OwnerRow, owner_id, populate_existing=True)
    assert row is not None
    after = owner_out(row)
    await outbox.add(session, owner_updated(after, utcnow()))
    return after


async def get_owner(session: AsyncSession, owner_id: str) -> OwnerOut | None:
    row = await session.get(OwnerRow, owner_id)
    return owner_out(row) if row else None


async def list_owners(session: AsyncSession, limit: int) -> list[OwnerOut]:
    query = select(OwnerRow).order_by(OwnerRow.id).limit(limit)
    return [owner_out(r) for r in (await session.execute(query)).scalars()]


async def put_team(session: AsyncSession, team_id: str, body: TeamIn) -> TeamOut:
    values = body.model_dump(mode="json") | {"id": team_id}
    statement = insert(TeamRow).values(**values)
    await session.execute(statement.on_conflict_do_update(index_elements=["id"], set_=values))
    return TeamOut(team_id=team_id, **body.model_dump())


def team_out(row: TeamRow) -> TeamOut:
    return TeamOut(team_id=row.id, name=row.name, queue=row.queue, sla=row.sla)


async def get_team(session: AsyncSession, team_id: str) -> TeamOut | None:
    row = await session.get(TeamRow, team_id)
    return team_out(row) if row else None


async def list_teams(session: AsyncSession) -> list[TeamOut]:
    rows = (await session.execute(select(TeamRow).order_by(TeamRow.id))).scalars()
    return [team_out(r) for r in rows]


async def put_territory(
    session: AsyncSession, territory_id: str, body: TerritoryIn
) -> TerritoryOut:
    for country in body.countries:
        if len(country) != 2 or not country.isalpha():
            raise InvalidReference("countries", f"{country!r} is not a two-letter country code")
    values = {
        "id": territory_id,
        "name": body.name,
        "countries": [c.upper() for c in body.countries],
        "regions": body.regions,
        "states": [s.upper() for s in body.states],
    }
    statement = insert(TerritoryRow).values(**values)
    await session.execute(statement.on_conflict_do_update(index_elements=["id"], set_=values))
    return TerritoryOut(territory_id=territory_id, **{k: v for k, v in values.items() if k != "id"})


def territory_out(row: TerritoryRow) -> TerritoryOut:
    return TerritoryOut(
        territory_id=row.id,
        name=row.name,
        countries=list(row.countries or []),
        regions=list(row.regions or []),
        states=list(row.states or []),
    )


async def get_territory(session: AsyncSession, territory_id: str) -> TerritoryOut | None:
    row = await session.get(TerritoryRow, territory_id)
    return territory_out(row) if row else None


async def list_territories(session: AsyncSession) -> list[TerritoryOut]:
    rows = (await session.execute(select(TerritoryRow).order_by(TerritoryRow.id))).scalars()
    return [territory_out(r) for r in rows]
