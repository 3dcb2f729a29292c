"""Intake's bodies in and out (pydantic): a lead, and the partner API's leads, activities
and meetings, one or a batch.

Outside `api/` because the service layer (`batches.py`) takes and returns them too;
nothing here may import from `api/`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.events.activities import ActivityKind
from shared.times import EventTime


class LeadIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=500)

    email: str = Field(max_length=320, examples=["dana@walmart.com"])
    name: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    country: str | None = Field(default=None, max_length=60)
    source: str = Field(default="api", max_length=100)
    campaign: str | None = Field(default=None, max_length=200)


class LeadAccepted(BaseModel):
    lead_id: UUID
    duplicate: bool = Field(
        default=False,
        description="True when this was a repeat of a lead registered within the window "
        "(same person, same source): the id is the existing lead's.",
    )


class LeadOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    received_at: datetime
    channel: str
    source: str
    campaign: str | None
    email: str
    email_domain: str
    free_mail: bool
    name: str | None
    company: str | None
    title: str | None
    phone: str | None
    country: str | None
    firm_id: str | None = None
    company_key: str | None = None
    disposable: bool = False


MAX_BATCH = 500

FirmMeetingStatus = Literal[
    "booked",
    "held",
    "no_show",
    "rescheduled_by_prospect",
    "cancelled_by_prospect",
]
"""What a firm may report about its meeting. Not that the company's sales team moved or
cancelled it: that keeps the firm its credit (SP7), so only sales may say so."""


class LeadBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    leads: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="Up to 500 leads, each shaped like a single lead; each gets its own result.",
    )


class ItemResult(BaseModel):
    index: int
    outcome: Literal["accepted", "duplicate", "rejected"]
    id: UUID | None = None
    errors: list[dict[str, str]] = Field(default_factory=list)


class BatchResult(BaseModel):
    accepted: int
    duplicate: int
    rejected: int
    results: list[ItemResult]


class ActivityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ActivityKind
    occurred_at: EventTime = Field(description="When the touch happened (event time).")
    contact_email: str = Field(max_length=320)
    lead_id: UUID | None = None
    notes: str | None = Field(default=None, max_length=2000)


class ActivityBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    activities: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class MeetingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_email: str = Field(max_length=320)
    lead_id: UUID | None = None
    status: Literal["booked"] = "booked"
    scheduled_for: EventTime | None = None
    booked_at: EventTime | None = Field(
        default=None,
        description="When the meeting was booked (event time). Default: now, or the "
        "meeting's time if that has passed (a booking is never after its meeting).",
    )
    comment: str | None = Field(default=None, max_length=2000)


class MeetingChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: FirmMeetingStatus
    scheduled_for: EventTime | None = None
    occurred_at: EventTime | None = None
    comment: str | None = Field(default=None, max_length=2000)


class MeetingOut(BaseModel):
    meeting_id: UUID
    firm_id: str
    lead_id: UUID | None
    contact_email: str
    status: str
    scheduled_for: datetime | None
    updated_at: datetime
    history: list[dict[str, Any]]

    @classmethod
    def of(cls, row: Any) -> MeetingOut:
        """From a stored meeting row (the partner and the sales endpoints answer alike)."""
        return cls(
            meeting_id=row.id,
            firm_id=row.firm_id,
            lead_id=row.lead_id,
            contact_email=row.contact_email,
            status=row.status,
            scheduled_for=row.scheduled_for,
            updated_at=row.updated_at,
            history=row.history,
        )


class PartnerLeadOut(BaseModel):
    id: UUID
    received_at: datetime
    source: str
    campaign: str | None
    email: str
    email_domain: str
    name: str | None
    company: str | None
    title: str | None
    phone: str | None
    country: str | None
