"""Admin API (ops token): accounts, owners, teams, territories, and the CSV bulk load
of accounts. Thin: parse, authorize, call the workspace, map errors to problems."""

from __future__ import annotations

import csv
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from services.router import bulk, workspace
from services.router.api.schemas import (
    AccountIn,
    AccountOut,
    OwnerIn,
    OwnerOut,
    TeamIn,
    TeamOut,
    TerritoryIn,
    TerritoryOut,
)
from services.router.domain.names import registrable_domain
from shared.auth import OpsCaller
from shared.problems import Problem, problem
from shared.service import runtime_of

router = APIRouter(prefix="/v1", tags=["routing admin"])

IdPath = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")]


def _invalid(error: workspace.InvalidReference) -> Problem:
    return Problem(422, str(error), errors=[{"field": error.field, "reason": error.reason}])


@router.put("/accounts/{account_id}", summary="Create or replace an account")
async def put_account(
    account_id: IdPath, body: AccountIn, request: Request, _caller: OpsCaller
) -> AccountOut:
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        try:
            return await workspace.put_account(session, runtime.outbox, account_id, body)
        except workspace.InvalidReference as error:
            raise _invalid(error) from None


@router.get(
    "/accounts/{account_id}", summary="An account", responses={404: problem("No such account")}
)
async def get_account(account_id: IdPath, request: Request, _caller: OpsCaller) -> AccountOut:
    async with runtime_of(request).sessions() as session:
        found = await workspace.get_account(session, account_id)
    if found is None:
        raise Problem(404, f"No account {account_id}.")
    return found


@router.get("/accounts", summary="Accounts with a domain (subdomains folded)")
async def find_accounts(
    request: Request,
    _caller: OpsCaller,
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
async def import_accounts(request: Request, _caller: OpsCaller) -> LoadOut:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type not in ("text/csv", "application/csv"):
        raise Problem(
            415,
            "Send the accounts as text/csv.",
            errors=[{"field": "body", "reason": "not text/csv"}],
        )
    runtime = runtime_of(request)
    async with runtime.sessions() as session:
        connection = await session.connection()
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None  # asyncpg under SQLAlchemy: always there
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
        await session.commit()
    return LoadOut(
        rows=report.rows,
        loaded=report.loaded,
        failed=report.failed,
        errors=[{"line": e.line, "field": e.field, "reason": e.reason} for e in report.errors],
    )


@router.put("/owners/{owner_id}", summary="Create or replace an owner (rep)")
async def put_owner(
    owner_id: IdPath, body: OwnerIn, request: Request, _caller: OpsCaller
) -> OwnerOut:
    async with runtime_of(request).sessions() as session, session.begin():
        try:
            return await workspace.put_owner(session, owner_id, body)
        except workspace.InvalidReference as error:
            raise _invalid(error) from None


@router.get("/owners/{owner_id}", summary="An owner", responses={404: problem("No such owner")})
async def get_owner(owner_id: IdPath, request: Request, _caller: OpsCaller) -> OwnerOut:
    async with runtime_of(request).sessions() as session:
        found = await workspace.get_owner(session, owner_id)
    if found is None:
        raise Problem(404, f"No owner {owner_id}.")
    return found


@router.get("/owners", summary="Owners, by id")
async def list_owners(
    request: Request, _caller: OpsCaller, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[OwnerOut]:
    async with runtime_of(request).sessions() as session:
        return await workspace.list_owners(session, limit)


@router.put("/teams/{team_id}", summary="Create or replace a team (and its queue)")
async def put_team(team_id: IdPath, body: TeamIn, request: Request, _caller: OpsCaller) -> TeamOut:
    async with runtime_of(request).sessions() as session, session.begin():
        return await workspace.put_team(session, team_id, body)


@router.get("/teams", summary="Teams")
async def list_teams(request: Request, _caller: OpsCaller) -> list[TeamOut]:
    async with runtime_of(request).sessions() as session:
        return await workspace.list_teams(session)


@router.put("/territories/{territory_id}", summary="Create or replace a territory")
async def put_territory(
    territory_id: IdPath, body: TerritoryIn, request: Request, _caller: OpsCaller
) -> TerritoryOut:
    async with runtime_of(request).sessions() as session, session.begin():
        try:
            return await workspace.put_territory(session, territory_id, body)
        except workspace.InvalidReference as error:
            raise _invalid(error) from None


@router.get("/territories", summary="Territories")
async def list_territories(request: Request, _caller: OpsCaller) -> list[TerritoryOut]:
    async with runtime_of(request).sessions() as session:
        return await workspace.list_territories(session)
