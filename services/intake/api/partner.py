"""``/v1/partner``: a firm submits leads, logs its touches and meetings, and reads back
its own records only (another firm's record is 404, exactly like a missing one)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Request, status
from pydantic import BaseModel, ValidationError

from services.intake.api.auth import PartnerCaller
from services.intake.api.errors import INTAKE_ERRORS
from services.intake.api.lead_counts import count, refusals_counted
from services.intake.batches import log_activities, pydantic_errors, submit_leads
from services.intake.domain.normalize import normalize_email
from services.intake.domain.reporting import late_or_future
from services.intake.facts import book_meeting, get_meeting, update_meeting
from services.intake.firms import reporting_window_days
from services.intake.schemas import (
    ActivityBatchIn,
    ActivityIn,
    BatchResult,
    LeadBatchIn,
    LeadIn,
    MeetingChangeIn,
    MeetingIn,
    MeetingOut,
    PartnerLeadOut,
)
from services.intake.store import get_lead
from shared.events.envelope import utcnow
from shared.problems import Problem
from shared.service import runtime_of

JsonObject = Annotated[dict[str, Any], Body()]


def one_or_batch(single: type[BaseModel], batch: type[BaseModel]) -> dict[str, Any]:
    """The request body in the OpenAPI document: one item, or a batch of them."""
    schema = {"oneOf": [single.model_json_schema(), batch.model_json_schema()]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def items_of(body: dict[str, Any], batch: type[BaseModel], key: str) -> list[dict[str, Any]]:
    """A batch (``{key: [...]}``, its size checked here) or one item (checked later)."""
    if key not in body:
        return [body]
    try:
        items: list[dict[str, Any]] = getattr(batch.model_validate(body), key)
    except ValidationError as exc:
        errors = pydantic_errors(exc)
        raise Problem(
            422, "; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors=errors
        ) from exc
    return items


def single_or_batch(body: dict[str, Any], key: str, result: BatchResult) -> BatchResult:
    """A refused single item is a 422 problem; a batch always gets per-item results."""
    if key not in body and result.rejected:
        errors = result.results[0].errors
        raise Problem(422, "; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors=errors)
    return result


router = APIRouter(prefix="/v1/partner", tags=["partner firms"], responses=INTAKE_ERRORS)


@router.post(
    "/leads",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a lead or a batch of up to 500",
    description="Each item is validated on its own: per-item results say accepted (new "
    "lead, `lead.received`), duplicate (same person from the same source within the "
    "window, `lead.duplicate`) or rejected (with field and reason). The lead's firm is the "
    "caller's. A single lead that is refused is answered 422.",
    openapi_extra=one_or_batch(LeadIn, LeadBatchIn),
)
async def post_leads(body: JsonObject, request: Request, partner: PartnerCaller) -> BatchResult:
    with refusals_counted("partner"):
        items = items_of(body, LeadBatchIn, "leads")
        runtime = runtime_of(request)
        window = request.app.state.dedup_window
        async with runtime.sessions() as session:
            result = await submit_leads(
                session,
                runtime.outbox,
                items,
                firm_id=partner.firm_id,
                window=window,
                bulk="leads" in body,  # a batch waits behind live leads, a single lead does not
            )
    count("partner", "accepted", result.accepted)
    count("partner", "duplicate", result.duplicate)
    count("partner", "invalid", result.rejected)
    return single_or_batch(body, "leads", result)


@router.get("/leads/{lead_id}", summary="One of the firm's own leads")
async def read_lead(lead_id: UUID, request: Request, partner: PartnerCaller) -> PartnerLeadOut:
    async with runtime_of(request).sessions() as session:
        row = await get_lead(session, lead_id)
    if row is None or row.firm_id != partner.firm_id:
        raise Problem(404, f"No lead {lead_id}.")
    return PartnerLeadOut.model_validate(row, from_attributes=True)


@router.post(
    "/activities",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Log touches (calls, emails, conversations) with their event time",
    description='One activity or `{"activities": [...]}` (up to 500); each accepted one '
    "is published as `leadflow.activity.logged.v1`. A single activity that is refused is "
    "answered 422.",
    openapi_extra=one_or_batch(ActivityIn, ActivityBatchIn),
)
async def post_activities(
    body: JsonObject, request: Request, partner: PartnerCaller
) -> BatchResult:
    items = items_of(body, ActivityBatchIn, "activities")
    runtime = runtime_of(request)
    async with runtime.sessions() as session:
        result = await log_activities(session, runtime.outbox, items, firm_id=partner.firm_id)
    return single_or_batch(body, "activities", result)


async def _own_lead(request: Request, lead_id: UUID | None, firm_id: str) -> None:
    if lead_id is None:
        return
    async with runtime_of(request).sessions() as session:
        lead = await get_lead(session, lead_id)
    if lead is None or lead.firm_id != firm_id:
        raise Problem(
            422, "No such lead of this firm.", errors=[{"field": "lead_id", "reason": "not found"}]
        )


async def _reported_in_time(
    request: Request, firm_id: str, field: str, at: datetime, now: datetime
) -> None:
    """A 422 naming ``field`` when the firm dates it in the future or further back than its
    contract's reporting window."""
    async with runtime_of(request).sessions() as session:
        window = await reporting_window_days(session, firm_id)
    late = late_or_future(at, now, window)
    if late is not None:
        raise Problem(422, f"{field}: {late}", errors=[{"field": field, "reason": late}])


@router.post(
    "/meetings",
    status_code=status.HTTP_201_CREATED,
    summary="Report a meeting booked",
    description="Published as `leadflow.meeting.updated.v1` (reported_by firm).",
)
async def post_meeting(body: MeetingIn, request: Request, partner: PartnerCaller) -> MeetingOut:
    try:
        email, domain = normalize_email(body.contact_email)
    except ValueError as exc:
        raise Problem(
            422, str(exc), errors=[{"field": "contact_email", "reason": str(exc)}]
        ) from exc
    await _own_lead(request, body.lead_id, partner.firm_id)
    runtime = runtime_of(request)
    now = utcnow()
    booked_at = body.booked_at or min(now, body.scheduled_for or now)
    if body.scheduled_for is not None and booked_at > body.scheduled_for:
        reason = "is after the meeting's scheduled_for"
        raise Problem(
            422, f"booked_at: {reason}", errors=[{"field": "booked_at", "reason": reason}]
        )
    await _reported_in_time(request, partner.firm_id, "booked_at", booked_at, now)
    async with runtime.sessions() as session:
        meeting_id = await book_meeting(
            session,
            runtime.outbox,
            firm_id=partner.firm_id,
            contact_email=email,
            email_domain=domain,
            lead_id=body.lead_id,
            status=body.status,
            scheduled_for=body.scheduled_for,
            occurred_at=booked_at,
            comment=body.comment,
            actor=partner.actor,
        )
        row = await get_meeting(session, meeting_id, partner.firm_id)
    return MeetingOut.of(row)


@router.get("/meetings/{meeting_id}", summary="One of the firm's own meetings")
async def read_meeting(meeting_id: UUID, request: Request, partner: PartnerCaller) -> MeetingOut:
    async with runtime_of(request).sessions() as session:
        row = await get_meeting(session, meeting_id, partner.firm_id)
    if row is None:
        raise Problem(404, f"No meeting {meeting_id}.")
    return MeetingOut.of(row)


async def _change(
    meeting_id: UUID, body: MeetingChangeIn, request: Request, partner: PartnerCaller
) -> MeetingOut:
    runtime = runtime_of(request)
    if body.occurred_at is not None:
        await _reported_in_time(request, partner.firm_id, "occurred_at", body.occurred_at, utcnow())
    async with runtime.sessions() as session:
        row = await update_meeting(
            session,
            runtime.outbox,
            meeting_id=meeting_id,
            firm_id=partner.firm_id,
            status=body.status,
            scheduled_for=body.scheduled_for,
            occurred_at=body.occurred_at,
            comment=body.comment,
            reported_by="firm",
            actor=partner.actor,
        )
    if row is None:
        raise Problem(404, f"No meeting {meeting_id}.")
    return MeetingOut.of(row)


@router.patch(
    "/meetings/{meeting_id}",
    summary="Report a change to a meeting (held, no-show, rescheduled, cancelled)",
    description="Published as `leadflow.meeting.updated.v1` (reported_by firm).",
)
async def patch_meeting(
    meeting_id: UUID, body: MeetingChangeIn, request: Request, partner: PartnerCaller
) -> MeetingOut:
    return await _change(meeting_id, body, request, partner)


@router.post(
    "/meetings/{meeting_id}/updates",
    summary="Report a change to a meeting (same as PATCH, for clients without PATCH)",
)
async def post_meeting_update(
    meeting_id: UUID, body: MeetingChangeIn, request: Request, partner: PartnerCaller
) -> MeetingOut:
    return await _change(meeting_id, body, request, partner)
