"""``/v1/leads``: register a lead (server-to-server, ops token) and read it back.

``POST`` is the door most leads come through, so it reads and answers its body itself:
the credential is checked by ``authorized`` (what the ``SubmitCaller`` dependency does), the
body validated straight from its bytes (``LeadIn.model_validate_json``, pydantic's parser
in Rust, no intermediate dict) and the answer sent as the bytes pydantic writes, skipping
FastAPI's dependency solving, body solving and response serialization. The OpenAPI
document says what a declared body, dependency and response would."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response, status
from pydantic import ValidationError

from services.intake.api.errors import INTAKE_ERRORS
from services.intake.api.lead_counts import count_registered, refusals_counted
from services.intake.batches import pydantic_errors
from services.intake.bulk import Entry
from services.intake.domain.normalize import InvalidLead, Submission, normalize
from services.intake.schemas import LeadAccepted, LeadIn, LeadOut
from services.intake.store import get_lead
from services.intake.writer import LeadWriter
from shared.credentials import BEARER_SECURITY, ReadCaller, authorized
from shared.problems import Problem
from shared.service import runtime_of
from shared.tracing import current_trace_context

router = APIRouter(prefix="/v1/leads", tags=["leads"], responses=INTAKE_ERRORS)


_LEAD_OPERATION = {
    "security": BEARER_SECURITY,
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": LeadIn.model_json_schema()}},
    },
}


def parse_lead(body: bytes) -> LeadIn:
    """The request body as a lead, or what a declared body's validation answers: a 400 for
    bytes that are not text, a 422 naming each invalid field (``body`` for text that is not
    JSON)."""
    try:
        body.decode()
    except UnicodeDecodeError as exc:
        raise Problem(400, "The request body is not UTF-8 text, so not JSON.") from exc
    try:
        return LeadIn.model_validate_json(body)
    except ValidationError as exc:
        errors = pydantic_errors(exc)
        raise Problem(
            422, "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5]), errors=errors
        ) from exc


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=LeadAccepted,
    openapi_extra=_LEAD_OPERATION,
    summary="Register a lead",
    description="Validates and normalizes the lead, registers it and publishes "
    "`leadflow.lead.received.v1`; the same person from the same source within the dedup "
    "window is a repeat touch (`leadflow.lead.duplicate.v1`, the existing lead's id). "
    "Answers with the lead id.",
)
async def post_lead(request: Request) -> Response:
    await authorized(request, "submit")
    body = parse_lead(await request.body())
    with refusals_counted("api"):
        raw = body.model_dump(mode="json")
        try:
            lead = normalize(Submission(**raw))
        except InvalidLead as exc:
            raise Problem(
                422, str(exc), errors=[{"field": e.field, "reason": e.reason} for e in exc.errors]
            ) from exc
        entry = Entry(lead, raw, "api", trace=current_trace_context())
        writer: LeadWriter = request.app.state.lead_writer
        registered = await writer.register(entry)
    count_registered("api", duplicate=registered.duplicate)
    accepted = LeadAccepted(lead_id=registered.lead_id, duplicate=registered.duplicate)
    return Response(
        accepted.model_dump_json(), status.HTTP_202_ACCEPTED, media_type="application/json"
    )


@router.get("/{lead_id}", summary="A registered lead")
async def read_lead(lead_id: UUID, request: Request, _caller: ReadCaller) -> LeadOut:
    async with runtime_of(request).sessions() as session:
        row = await get_lead(session, lead_id)
    if row is None:
        raise Problem(404, f"No lead {lead_id}.")
    return LeadOut.model_validate(row)
