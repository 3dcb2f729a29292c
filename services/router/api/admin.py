"""Admin API (ops token): accounts, owners, teams, territories, and the CSV bulk load
of accounts. Thin: parse, authorize, call the workspace, map errors to problems."""

from __future__ import annotations

import csv
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from services.router import bulk, workspace
from services.router.domain.names import registrable_domain
from services.router.schemas import (
    AccountIn,
    AccountOut,
    OwnerIn,
    OwnerOut,
    TeamIn,
    TeamOut,
    TerritoryIn,
    TerritoryOut,
)
from shared import audit
from shared.credentials import AdminCaller, ReadCaller
from shared.db import driver_connection
from shared.problems import Problem, problem
from shared.service import runtime_of

router = APIRouter(prefix="/v1", tags=["routing admin"])

IdPath = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")]


def _invalid(error: workspace.InvalidReference) -> Problem:
    return Problem(422, str(error), errors=[{"field": error.field, "reason": error.reason}])


def _firm_part(account: AccountOut | None) -> dict[str, object] | None:
    if account is None or account.firm is None:
        return None
    return account.firm.model_dump(mode="json") | {"account_id": account.account_id}


@router.put("/accounts/{account_id}", summary="Create or replace an account")
async def put_account(
    account_id: IdPath, body: AccountIn, request: Request, caller: AdminCaller
) -> AccountOut:
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        before = await workspace.get_account(session, account_id)
        try:
            after = await workspace.put_account(session, runtime.outbox, account_id, body)
        except workspace.InvalidReference as error:
            raise _invalid(error) from None
        await audit.record(
            session,
            caller,
            service=runtime.name,
            action="account.put",
            entity_type="account",
            entity_id=account_id,
            before=before.model_dump(mode="json", exclude={"rerouted"}) if before else None,
            after=after.model_dump(mode="json", exclude={"rerouted"}),
        )
        was, now = _firm_part(before), _firm_part(after)
        if was != now:  # a firm assignment: in the firm's audit trail too
            for firm in {p["firm_id"] for p in (was, now) if p is not None}:
                await audit.record(
                    session,
                    caller,
                    service=runtime.name,
                    action="firm.assignment",
                    entity_type="firm",
                    entity_id=str(firm),
                    before=was,
                    after=now,
                )
    return after


@router.get(
    "/accounts/{account_id}", summary="An account", responses={404: problem("No such account")}
)
async def get_account(account_id: IdPath, request: Request, _caller: ReadCaller) -> AccountOut:
    async with runtime_of(request).sessions() as session:
        found = await workspace.get_account(session, account_id)
    if found is None:
        raise Problem(404, f"No account {account_id}.")
    return found


@router.get("/accounts", summary="Accounts with a domain (subdomains folded)")
async def find_accounts(
    request: Request,
    _caller: ReadCaller,
    domain: Annotated[str, Query(min_length=3, max_length=255)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[AccountOut]:
    async with runtime_of(request).sessions() as session:
        return await workspace.accounts_with_domain(session, registrable_domain(domain), limit)


class LoadOut(BaseModel):
    rows: int
    loaded: int
    failed: int
    errors: list[dict[str, str | int]]


@router.post(
    "/accounts/import",
    summary="Bulk load accounts from CSV (text/csv body, streamed; bad rows reported by line)",
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    responses={415: problem("The body is not text/csv")},
)
async def import_accounts(request: Request, caller: AdminCaller) -> LoadOut:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type not in ("text/csv", "application/csv"):
        raise Problem(
            415,
            "Send the accounts as text/csv.",
            errors=[{"field": "body", "reason": "not text/csv"}],
        )
    runtime = runtime_of(request)
    async with runtime.sessions() as session:
        raw = await driver_connection(session)  # one transaction: the rows and the audit
        loader = bulk.AccountLoader(raw, await bulk.owner_ids(raw))
        try:
            async for chunk in request.stream():
                await loader.feed(chunk)
            report = await loader.finish()
        except ValueError as error:  # a bad header: nothing was loaded
            raise Problem(
                422, str(error), errors=[{"field": "header", "reason": str(error)}]
            ) from None
        except csv.Error as error:  # e.g. a lone carriage return inside a field
            reason = f"unreadable CSV: {error}"
            raise Problem(
                422, f"{reason}; nothing was loaded.", errors=[{"field": "body", "reason": reason}]
            ) from None
        await audit.record(
            session,
            caller,
            service=runtime_of(request).name,
            action="accounts.import",
            entity_type="account_import",
            entity_id=f"{report.loaded} of {report.rows} rows",
            before=None,
            after={"rows": report.rows, "loaded": report.loaded, "failed": report.failed},
        )
        await session.commit()
    return LoadOut(
        rows=report.rows,
        loaded=report.loaded,
        failed=report.failed,
        errors=[{"line": e.line, "field": e.field, "reason": e.reason} for e in report.errors],
    )


@router.put("/owners/{owner_id}", summary="Create or replace an owner (rep)")
async def put_owner(
    owner_id: IdPath, body: OwnerIn, request: Request, caller: AdminCaller
) -> OwnerOut:
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        before = await workspace.get_owner(session, owner_id)
        try:
            after = await workspace.put_owner(session, runtime.outbox, owner_id, body)
        except workspace.InvalidReference as error:
            raise _invalid(error) from None
        await audit.record(
            session,
            caller,
            service=runtime.name,
            action="owner.put",
            entity_type="owner",
            entity_id=owner_id,
            before=before.model_dump(mode="json", exclude={"open_leads"}) if before else None,
            after=after.model_dump(mode="json", exclude={"open_leads"}),
        )
    return after


@router.get("/owners/{owner_id}", summary="An owner", responses={404: problem("No such owner")})
async def get_owner(owner_id: IdPath, request: Request, _caller: ReadCaller) -> OwnerOut:
    async with runtime_of(request).sessions() as session:
        found = await workspace.get_owner(session, owner_id)
    if found is None:
        raise Problem(404, f"No owner {owner_id}.")
    return found


@router.get("/owners", summary="Owners, by id")
async def list_owners(
    request: Request, _caller: ReadCaller, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[OwnerOut]:
    async with runtime_of(request).sessions() as session:
        return await workspace.list_owners(session, limit)


@router.put("/teams/{team_id}", summary="Create or replace a team (and its queue)")
async def put_team(team_id: IdPath, body: TeamIn, request: Request, caller: AdminCaller) -> TeamOut:
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        before = await workspace.get_team(session, team_id)
        after = await workspace.put_team(session, team_id, body)
        await audit.record(
            session,
            caller,
            service=runtime.name,
            action="team.put",
            entity_type="team",
            entity_id=team_id,
            before=before,
            after=after,
        )
    return after


@router.get("/teams", summary="Teams")
async def list_teams(request: Request, _caller: ReadCaller) -> list[TeamOut]:
    async with runtime_of(request).sessions() as session:
        return await workspace.list_teams(session)


@router.put("/territories/{territory_id}", summary="Create or replace a territory")
async def put_territory(
    territory_id: IdPath, body: TerritoryIn, request: Request, caller: AdminCaller
) -> TerritoryOut:
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        before = await workspace.get_territory(session, territory_id)
        try:
            after = await workspace.put_territory(session, territory_id, body)
        except workspace.InvalidReference as error:
            raise _invalid(error) from None
        await audit.record(
            session,
            caller,
            service=runtime.name,
            action="territory.put",
            entity_type="territory",
            entity_id=territory_id,
            before=before,
            after=after,
        )
    return after


@router.get("/territories", summary="Territories")
async def list_territories(request: Request, _caller: ReadCaller) -> list[TerritoryOut]:
    async with runtime_of(request).sessions() as session:
        return await workspace.list_territories(session)
