"""``GET /v1/leads/{id}/credit``: the current credit decision and its reasons."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel

from services.credit import store
from shared.auth import OpsCaller
from shared.events.credit import CreditDecided
from shared.problems import PROBLEM_RESPONSES, Problem
from shared.service import runtime_of

router = APIRouter(prefix="/v1/leads", tags=["credit"], responses=PROBLEM_RESPONSES)


class CreditOut(BaseModel):
    decision: CreditDecided
    revisions: int


@router.get("/{lead_id}/credit", summary="The lead's current credit decision and reasons")
async def read_credit(lead_id: UUID, request: Request, _caller: OpsCaller) -> CreditOut:
    async with runtime_of(request).sessions() as session:
        row = await store.latest_decision(session, lead_id)
        if row is None:
            raise Problem(404, f"No credit decision for lead {lead_id} (yet).")
        revisions = await store.decision_count(session, lead_id)
    return CreditOut(decision=CreditDecided.model_validate(row.event), revisions=revisions)
