"""``/v1/leads``: register a lead (server-to-server, ops token) and read it back."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, status

from services.intake.api.errors import INTAKE_ERRORS
from services.intake.api.lead_counts import count_registered, refusals_counted
from services.intake.bulk import Entry
from services.intake.domain.normalize import InvalidLead, Submission, normalize
from services.intake.schemas import LeadAccepted, LeadIn, LeadOut
from services.intake.store import get_lead
from services.intake.writer import LeadWriter
from shared.credentials import ReadCaller, SubmitCaller
from shared.problems import Problem
from shared.service import runtime_of
from shared.tracing import current_trace_context

router = APIRouter(prefix="/v1/leads", tags=["leads"], responses=INTAKE_ERRORS)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Register a lead",
    description="Validates and normalizes the lead, registers it and publishes "
    "`leadflow.lead.received.v1`; the same person from the same source within the dedup "
    "window is a repeat touch (`leadflow.lead.duplicate.v1`, the existing lead's id). "
    "Answers with the lead id.",
)
async def post_lead(body: LeadIn, request: Request, _caller: SubmitCaller) -> LeadAccepted:
    with refusals_counted("api"):
        try:
            lead = normalize(Submission(**body.model_dump()))
        except InvalidLead as exc:
            raise Problem(
                422, str(exc), errors=[{"field": e.field, "reason": e.reason} for e in exc.errors]
            ) from exc
        entry = Entry(lead, body.model_dump(mode="json"), "api", trace=current_trace_context())
        writer: LeadWriter = request.app.state.lead_writer
        registered = await writer.register(entry)
    count_registered("api", duplicate=registered.duplicate)
    return LeadAccepted(lead_id=registered.lead_id, duplicate=registered.duplicate)


@router.get("/{lead_id}", summary="A registered lead")
async def read_lead(lead_id: UUID, request: Request, _caller: ReadCaller) -> LeadOut:
    async with runtime_of(request).sessions() as session:
        row = await get_lead(session, lead_id)
    if row is None:
        raise Problem(404, f"No lead {lead_id}.")
    return LeadOut.model_validate(row)
