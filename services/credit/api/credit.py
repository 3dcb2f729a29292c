"""Ops endpoints: a lead's credit decision and history, dispute resolution."""

from __future__ import annotations

from typing import Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.credit import store
from services.credit.domain.disputes import open_dispute
from services.credit.service import redecide
from shared import audit
from shared.credentials import AdminCaller, ReadCaller
from shared.db import driver_connection, lock
from shared.events.credit import CreditDecided
from shared.events.envelope import utcnow
from shared.problems import PROBLEM_RESPONSES, Problem, problem
from shared.service import runtime_of

router = APIRouter(prefix="/v1/leads", tags=["credit"], responses=PROBLEM_RESPONSES)


def _audited(row: store.StoredDecision | None) -> dict[str, object]:
    if row is None:
        return {}
    return {"revision": row.revision, "state": row.state, "amount": str(row.amount)}


class CreditOut(BaseModel):
    decision: CreditDecided
    revisions: int


class HistoryOut(BaseModel):
    revisions: list[CreditDecided]


class Resolution(BaseModel):
    verdict: Literal["upheld", "overturned"]
    comment: str = Field(min_length=1, max_length=2000)


@router.get("/{lead_id}/credit", summary="The lead's current credit decision and reasons")
async def read_credit(lead_id: UUID, request: Request, _caller: ReadCaller) -> CreditOut:
    async with runtime_of(request).sessions() as session:
        row = await store.latest_decision(session, lead_id)
        if row is None:
            raise Problem(404, f"No credit decision for lead {lead_id} (yet).")
        revisions = await store.decision_count(session, lead_id)
    return CreditOut(decision=CreditDecided.model_validate(row.event), revisions=revisions)


@router.get("/{lead_id}/credit/history", summary="Every revision of the lead's credit decision")
async def read_history(lead_id: UUID, request: Request, _caller: ReadCaller) -> HistoryOut:
    async with runtime_of(request).sessions() as session:
        rows = await store.decision_history(session, lead_id)
    if not rows:
        raise Problem(404, f"No credit decision for lead {lead_id} (yet).")
    return HistoryOut(revisions=[CreditDecided.model_validate(r.event) for r in rows])


@router.post(
    "/{lead_id}/credit/resolution",
    summary="Ops settles a dispute: uphold what was contested or overturn it (SP8)",
    description="**upheld**: what was contested stands against the firm (sales' flag "
    "stands and the meeting earns nothing; the disputed decision stands). **overturned**: "
    "it is reversed in the firm's favour (the flagged meeting counts as held; the disputed "
    "decision becomes a credit at the lead's price). Either ends the dispute with a new "
    "revision and a ledger line. 409 when no dispute is open.",
    responses={409: problem("No open dispute on this lead")},
)
async def resolve_dispute(
    lead_id: UUID, body: Resolution, request: Request, caller: AdminCaller
) -> CreditOut:
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        await lock(await driver_connection(session), [store.lead_key(lead_id)])
        before = await store.latest_decision(session, lead_id)
        if not open_dispute(await store.lead_facts(session, lead_id)):
            detail = "There is no open dispute on this lead to settle."
            raise Problem(409, detail, errors=[{"field": "lead_id", "reason": detail}])
        await store.add_fact(
            session,
            store.FactRow(
                uuid4(),
                lead_id,
                "dispute",
                utcnow(),
                {"kind": body.verdict, "comment": body.comment, "by": caller.actor},
            ),
        )
        await redecide(session, runtime.outbox, lead_id)
        row = await store.latest_decision(session, lead_id)
        revisions = await store.decision_count(session, lead_id)
        assert row is not None
        await audit.record(
            session,
            caller,
            service=runtime.name,
            action=f"dispute.{body.verdict}",
            entity_type="lead",
            entity_id=str(lead_id),
            lead_id=lead_id,
            before=_audited(before),
            after=_audited(row) | {"comment": body.comment},
        )
    return CreditOut(decision=CreditDecided.model_validate(row.event), revisions=revisions)
