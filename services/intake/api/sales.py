"""Sales and ops (ops token): accept or reject a lead with a reason code (sticking points
5 and 9: the firm sees why), and record a meeting's outcome from the company's side,
including the bad-meeting flag (sticking point 8)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from fastapi import APIRouter, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.intake.api.errors import INTAKE_ERRORS
from services.intake.api.partner_schemas import MeetingOut
from services.intake.facts import change_lead_status, update_meeting
from services.intake.store import get_lead
from shared.auth import OpsCaller
from shared.events.activities import MeetingStatus
from shared.events.envelope import utcnow
from shared.events.status import RejectionReason
from shared.problems import Problem
from shared.service import runtime_of

router = APIRouter(tags=["sales and ops"], responses=INTAKE_ERRORS)


class AcceptanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["accepted", "rejected"]
    reason_code: RejectionReason | None = Field(
        default=None, description="Required when rejecting."
    )
    comment: str | None = Field(default=None, max_length=2000)
    actor: str = Field(min_length=1, max_length=200, description="Who decided (sales rep id).")
    occurred_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _reason_when_rejected(self) -> AcceptanceIn:
        if self.decision == "rejected" and self.reason_code is None:
            raise ValueError("reason_code is required to reject a lead")
        return self


class AcceptanceOut(BaseModel):
    lead_id: UUID
    stage: str
    reason_code: str | None
    recorded_at: datetime


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: MeetingStatus | None = Field(
        default=None, description="The outcome; `flagged_bad` when bad_meeting is true."
    )
    bad_meeting: bool = Field(default=False, description="Sales flags the meeting as bad.")
    scheduled_for: AwareDatetime | None = None
    occurred_at: AwareDatetime | None = None
    comment: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _something(self) -> OutcomeIn:
        if self.status is None and not self.bad_meeting:
            raise ValueError("give a status or bad_meeting: true")
        return self


@router.post(
    "/v1/leads/{lead_id}/acceptance",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Sales accepts or rejects a lead (with a reason code)",
    description="Published as `leadflow.lead.status_changed.v1` (stage accepted/rejected).",
)
async def post_acceptance(
    lead_id: UUID, body: AcceptanceIn, request: Request, _caller: OpsCaller
) -> AcceptanceOut:
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        if await get_lead(session, lead_id) is None:
            raise Problem(404, f"No lead {lead_id}.")
        await change_lead_status(
            session,
            runtime.outbox,
            lead_id=lead_id,
            stage=body.decision,
            reason_code=body.reason_code,
            comment=body.comment,
            actor=body.actor,
            occurred_at=body.occurred_at,
        )
    return AcceptanceOut(
        lead_id=lead_id, stage=body.decision, reason_code=body.reason_code, recorded_at=utcnow()
    )


@router.post(
    "/v1/meetings/{meeting_id}/outcome",
    summary="Sales records a meeting's outcome or flags it as bad",
    description="Published as `leadflow.meeting.updated.v1` with reported_by sales.",
)
async def post_outcome(
    meeting_id: UUID, body: OutcomeIn, request: Request, _caller: OpsCaller
) -> MeetingOut:
    runtime = runtime_of(request)
    meeting_status: MeetingStatus = "flagged_bad" if body.bad_meeting else (body.status or "held")
    async with runtime.sessions() as session:
        row = await update_meeting(
            session,
            runtime.outbox,
            meeting_id=meeting_id,
            firm_id=None,
            status=meeting_status,
            scheduled_for=body.scheduled_for,
            occurred_at=body.occurred_at,
            comment=body.comment,
            reported_by="sales",
        )
    if row is None:
        raise Problem(404, f"No meeting {meeting_id}.")
    return MeetingOut.of(row)
