"""``GET /v1/leads/{id}/routing``: the current routing decision, its trace and sentence."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel

from services.router import store
from shared.credentials import ReadCaller
from shared.events.routing import LeadRouted
from shared.problems import Problem, problem
from shared.service import runtime_of

router = APIRouter(prefix="/v1/leads", tags=["routing"])


class RoutingOut(BaseModel):
    decision: LeadRouted
    revisions: int


@router.get(
    "/{lead_id}/routing",
    summary="The lead's current routing decision and trace",
    responses={404: problem("No routing decision for this lead (yet)")},
)
async def read_routing(lead_id: UUID, request: Request, _caller: ReadCaller) -> RoutingOut:
    async with runtime_of(request).sessions() as session:
        row = await store.latest_decision(session, lead_id)
        if row is None:
            raise Problem(404, f"No routing decision for lead {lead_id} (yet).")
        revisions = await store.decision_count(session, lead_id)
    return RoutingOut(decision=LeadRouted.model_validate(row.event), revisions=revisions)
