"""Ops endpoints: a lead's credit decision and history, dispute resolution."""

from __future__ import annotations

from typing import Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.credit import store
from services.credit.service import redecide
from shared.auth import OpsCaller
from shared.events.credit import CreditDecided
from shared.events.envelope import utcnow
from shared.problems import PROBLEM_RESPONSES, Problem
from shared.service import runtime_of

router = APIRouter(prefix="/v1/leads", tags=["credit"], responses=PROBLEM_RESPONSES)


class CreditOut(BaseModel):
    decision: CreditDecided
    revisions: int


class HistoryOut(BaseModel):
    revisions: list[CreditDecided]


class Resolution(BaseModel):
    verdict: Literal["upheld", "overturned"]
    comment: str = Field(min_length=1, max_length=2000)


@router.get("/{lead_id}/credit", summary="The lead's current credit decision and reasons")
async def read_credit(lead_id: UUID, request: Request, _caller: OpsCaller) -> CreditOut:
    async with runtime_of(request).sessions() as session:
        row = await store.latest_decision(session, lead_id)
        if row is None:
            raise Problem(404, f"No credit decision for lead {lead_id} (yet).")
        revisions = await store.decision_count(session, lead_id)
    return CreditOut(decision=CreditDecided.model_validate(row.event), revisions=revisions)


@router.get("/{lead_id}/credit/history", summary="Every revision of the lead's credit decision")
async def read_history(lead_id: UUID, request: Request, _caller: OpsCaller) -> HistoryOut:
    async with runtime_of(request).sessions() as session:
        rows = await store.decision_history(session, lead_id)
    if not rows:
        raise Problem(404, f"No credit decision for lead {lead_id} (yet).")
    return HistoryOut(revisions=[CreditDecided.model_validate(r.event) for r in rows])


@router.post(
    "/{lead_id}/credit/resolution",
    summary="Ops settles a dispute: uphold the decision or overturn it (SP8)",
)
async def resolve_dispute(
    lead_id: UUID, body: Resolution, request: Request, _caller: OpsCaller
) -> CreditOut:
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        facts = await store.lead_facts(session, lead_id)
        if not any(d.kind == "opened" for d in facts.disputes) and not any(
            m.status == "flagged_bad" for m in facts.meetings
        ):
            raise Problem(409, "There is no dispute on this lead to resolve.")
        await store.add_fact(
            session,
            event_id=uuid4(),
            lead_id=lead_id,
            kind="dispute",
            occurred_at=utcnow(),
            data={"kind": body.verdict, "comment": body.comment, "by": "ops"},
        )
        await redecide(session, runtime.outbox, lead_id)
        row = await store.latest_decision(session, lead_id)
        revisions = await store.decision_count(session, lead_id)
    assert row is not None
    return CreditOut(decision=CreditDecided.model_validate(row.event), revisions=revisions)
