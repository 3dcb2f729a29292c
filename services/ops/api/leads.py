"""A lead's whole timeline across services, and the lead search behind the dashboard's
search box (ops token)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from services.ops import store
from services.ops.domain.timeline import Fact, Timeline, timeline
from shared.auth import OpsCaller
from shared.problems import PROBLEM_RESPONSES, Problem
from shared.service import runtime_of

router = APIRouter(prefix="/v1/leads", tags=["leads"], responses=PROBLEM_RESPONSES)


@router.get(
    "/{lead_id}",
    summary="A lead's timeline across services",
    description="Every event about the lead in the pipeline's order (event time, but a "
    "credit decision, dated as of the lead's facts, after the routing revision it "
    "followed), each with a one-line summary (the routing trace and the credit reasons as "
    "details), and a header saying where the lead stands: stage, owner, account, firm, "
    "credit.",
)
async def lead_timeline(lead_id: UUID, request: Request, _caller: OpsCaller) -> Timeline:
    async with runtime_of(request).sessions() as session:
        logged = await store.lead_events(session, lead_id)
    if not logged:
        raise Problem(404, f"No events about lead {lead_id}.")
    return timeline(lead_id, (Fact(e.seq, e.type, e.source, e.time, e.data) for e in logged))


class SearchResult(BaseModel):
    q: str
    leads: list[store.LeadHit]


@router.get(
    "",
    summary="Find leads by email, name, company, domain or id prefix",
)
async def search(
    request: Request,
    _caller: OpsCaller,
    q: Annotated[
        str,
        Query(
            min_length=2,
            max_length=200,
            pattern=r"^[^\x00-\x1f\x7f]*$",  # no control characters (NUL breaks the query)
            description="What to look for",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchResult:
    async with runtime_of(request).sessions() as session:
        hits = await store.search_leads(session, q, limit)
    return SearchResult(q=q, leads=hits)
