"""Sales and ops (ops token): record a meeting's outcome from the company's side,
including the bad-meeting flag (sticking point 8, docs/design.md). Accepting or rejecting
a lead is the router's (``POST /v1/leads/{id}/stage``), which keeps the lead's lifecycle
and SLA."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.intake.api.errors import INTAKE_ERRORS
from services.intake.facts import update_meeting
from services.intake.schemas import MeetingOut
from shared.credentials import SalesCaller
from shared.events.activities import MeetingStatus
from shared.problems import Problem
from shared.service import runtime_of
from shared.times import EventTime

router = APIRouter(tags=["sales and ops"], responses=INTAKE_ERRORS)


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: MeetingStatus | None = Field(
        default=None, description="The outcome; `flagged_bad` when bad_meeting is true."
    )
    bad_meeting: bool = Field(default=False, description="Sales flags the meeting as bad.")
    scheduled_for: EventTime | None = None
    occurred_at: EventTime | None = None
    comment: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _something(self) -> OutcomeIn:
        if self.status is None and not self.bad_meeting:
            raise ValueError("give a status or bad_meeting: true")
        return self


@router.post(
    "/v1/meetings/{meeting_id}/outcome",
    summary="Sales records a meeting's outcome or flags it as bad",
    description="Published as `leadflow.meeting.updated.v1` with reported_by sales.",
)
async def post_outcome(
    meeting_id: UUID, body: OutcomeIn, request: Request, caller: SalesCaller
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
            actor=caller.actor,
        )
    if row is None:
        raise Problem(404, f"No meeting {meeting_id}.")
    return MeetingOut.of(row)
