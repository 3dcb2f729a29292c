"""``/v1/firms``: ops creates firms and issues/revokes their partner API keys (admin)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from services.intake.api.errors import INTAKE_ERRORS
from services.intake.firms import create_firm, get_firm, issue_key, list_keys, revoke_key
from shared.credentials import AdminCaller, ReadCaller
from shared.problems import Problem, problem
from shared.service import runtime_of

router = APIRouter(prefix="/v1/firms", tags=["firms (ops)"], responses=INTAKE_ERRORS)

FIRM_ID = r"^[a-z0-9][a-z0-9_-]{0,99}$"


class FirmIn(BaseModel):
    firm_id: str = Field(pattern=FIRM_ID, max_length=100, examples=["acme-outreach"])
    name: str = Field(min_length=1, max_length=200)


class KeyIn(BaseModel):
    name: str = Field(
        default="partner key",
        min_length=1,
        max_length=200,
        description="What the firm uses it for (shown in the audit log).",
    )


class KeyOut(BaseModel):
    key_id: str
    name: str
    revoked: bool
    created_at: datetime
    revoked_at: datetime | None


class FirmOut(BaseModel):
    firm_id: str
    name: str
    keys: list[KeyOut]


class IssuedKeyOut(BaseModel):
    key_id: str
    firm_id: str
    token: str = Field(description="Shown once, never stored: only its SHA-256 is kept.")
    issued_at: datetime


async def _firm_out(request: Request, firm_id: str) -> FirmOut:
    async with runtime_of(request).sessions() as session:
        firm = await get_firm(session, firm_id)
        if firm is None:
            raise Problem(404, f"No firm {firm_id}.")
        keys = await list_keys(session, firm_id)
    return FirmOut(
        firm_id=firm.firm_id,
        name=firm.name,
        keys=[
            KeyOut(
                key_id=k.key_id,
                name=k.name,
                revoked=k.revoked_at is not None,
                created_at=k.created_at,
                revoked_at=k.revoked_at,
            )
            for k in keys
        ],
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a firm",
    responses={
        409: {"description": "The firm exists", "content": {"application/problem+json": {}}}
    },
)
async def post_firm(body: FirmIn, request: Request, caller: AdminCaller) -> FirmOut:
    async with runtime_of(request).sessions() as session, session.begin():
        created = await create_firm(session, caller, body.firm_id, body.name)
    if not created:
        raise Problem(
            409, f"Firm {body.firm_id} exists.", errors=[{"field": "firm_id", "reason": "exists"}]
        )
    return await _firm_out(request, body.firm_id)


@router.get("/{firm_id}", summary="A firm and its keys (ids only)")
async def read_firm(firm_id: str, request: Request, _caller: ReadCaller) -> FirmOut:
    return await _firm_out(request, firm_id)


@router.post(
    "/{firm_id}/keys",
    status_code=status.HTTP_201_CREATED,
    summary="Issue a partner API key",
    description="The token is in this answer only. It works at once on every service.",
)
async def post_key(
    firm_id: str, request: Request, caller: AdminCaller, body: KeyIn | None = None
) -> IssuedKeyOut:
    async with runtime_of(request).sessions() as session, session.begin():
        issued = await issue_key(session, caller, firm_id, (body or KeyIn()).name)
    if issued is None:
        raise Problem(404, f"No firm {firm_id}.")
    return IssuedKeyOut(
        key_id=issued.key_id, firm_id=firm_id, token=issued.token, issued_at=issued.created_at
    )


@router.delete(
    "/{firm_id}/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a partner API key",
    description="Takes effect on every service within a second. Revoking a revoked key is a "
    "409 saying so.",
    responses={409: problem("The key was already revoked")},
)
async def delete_key(firm_id: str, key_id: str, request: Request, caller: AdminCaller) -> Response:
    async with runtime_of(request).sessions() as session, session.begin():
        outcome = await revoke_key(session, caller, firm_id, key_id)
    if outcome == "unknown":
        raise Problem(404, f"Firm {firm_id} has no key {key_id}.")
    if outcome == "already revoked":
        raise Problem(
            409,
            f"Key {key_id} of firm {firm_id} was already revoked.",
            errors=[{"field": "key_id", "reason": "already revoked"}],
        )
    return Response(status_code=204)
