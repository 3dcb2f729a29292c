"""``/v1/audit``: who changed what, when, before and after — every admin write of every
service (``shared.audit``), newest first, by entity, by actor (a credential's key id) or
by lead (ops read scope)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from shared import audit
from shared.credentials import ReadCaller
from shared.problems import PROBLEM_RESPONSES
from shared.service import runtime_of

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=PROBLEM_RESPONSES)
Name = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9._:@ -]+$")]


class AuditPage(BaseModel):
    entries: list[audit.AuditEntry]
    next_before_id: int | None  # pass as before_id for the next (older) page


@router.get("", summary="The audit log of admin writes, newest first")
async def read_audit(
    request: Request,
    _caller: ReadCaller,
    *,
    entity_type: Name = None,
    entity_id: Name = None,
    actor_key_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9]{1,16}$")] = None,
    lead_id: UUID | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    query = audit.AuditQuery(
        entity_type=entity_type,
        entity_id=entity_id,
        actor_key_id=actor_key_id,
        lead_id=lead_id,
        before_id=before_id,
        limit=limit,
    )
    async with runtime_of(request).sessions() as session:
        found = await audit.entries(session, query)
    return AuditPage(entries=found, next_before_id=found[-1].id if len(found) == limit else None)
