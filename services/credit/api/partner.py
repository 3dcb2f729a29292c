"""Partner endpoints: a firm reads its own credit and statements and disputes decisions.
Another firm's lead looks exactly like a lead that does not exist (404)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.credit import store
from services.credit.api.credit import CreditOut
from services.credit.api.firms import as_csv, build_statement
from services.credit.domain.disputes import dispute_refusal
from services.credit.service import redecide
from shared.credentials import PartnerCaller
from shared.db import driver_connection, lock
from shared.events.credit import CreditDecided
from shared.events.envelope import utcnow
from shared.problems import PROBLEM_RESPONSES, Problem, problem
from shared.service import runtime_of

router = APIRouter(prefix="/v1/partner", tags=["partner"], responses=PROBLEM_RESPONSES)


class DisputeIn(BaseModel):
    comment: str = Field(min_length=1, max_length=2000)


async def _own(request: Request, firm: str, lead_id: UUID) -> store.StoredDecision:
    async with runtime_of(request).sessions() as session:
        row = await store.latest_decision(session, lead_id)
    if row is None or row.firm_id != firm:
        raise Problem(404, f"No credit decision for lead {lead_id}.")
    return row


@router.get("/credits/{lead_id}", summary="The credit decision on one of the firm's leads")
async def partner_credit(lead_id: UUID, request: Request, partner: PartnerCaller) -> CreditOut:
    row = await _own(request, partner.firm_id, lead_id)
    return CreditOut(decision=CreditDecided.model_validate(row.event), revisions=row.revision)


@router.post(
    "/credits/{lead_id}/disputes",
    status_code=202,
    summary="Contest a decision that earns the firm nothing (SP8); ops settles it",
    description="Open while the decision is final and not credited (`not_eligible`, `void`, "
    "`reversed`): the decision becomes `disputed` until ops upholds or overturns it. A "
    "dispute that cannot be taken (one already open or settled, a pending or credited "
    "decision) is a 409 saying why.",
    responses={409: problem("The decision cannot be disputed now (says why)")},
)
async def partner_dispute(
    lead_id: UUID, body: DisputeIn, request: Request, partner: PartnerCaller
) -> CreditOut:
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        await lock(await driver_connection(session), [store.lead_key(lead_id)])
        row = await store.latest_decision(session, lead_id)
        if row is None or row.firm_id != partner.firm_id:
            raise Problem(404, f"No credit decision for lead {lead_id}.")
        refusal = dispute_refusal(row.state, await store.lead_facts(session, lead_id))
        if refusal is not None:
            raise Problem(409, refusal, errors=[{"field": "lead_id", "reason": refusal}])
        await store.add_fact(
            session,
            store.FactRow(
                uuid4(),
                lead_id,
                "dispute",
                utcnow(),
                {"kind": "opened", "comment": body.comment, "by": partner.actor},
            ),
        )
        await redecide(session, runtime.outbox, lead_id)
        row = await store.latest_decision(session, lead_id)
    assert row is not None
    return CreditOut(decision=CreditDecided.model_validate(row.event), revisions=row.revision)


@router.get("/statements/{period}", summary="The firm's own statement for a month")
async def partner_statement(
    period: str,
    request: Request,
    partner: PartnerCaller,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    statement = await build_statement(request, partner.firm_id, period)
    if format == "csv":
        return as_csv(statement)
    return Response(statement.model_dump_json(), media_type="application/json")
