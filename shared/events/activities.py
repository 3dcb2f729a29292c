"""Events about outside firms' work: touches and meetings."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from shared.events.base import Event
from shared.events.topics import ACTIVITIES_LOGGED, MEETINGS_UPDATED

ActivityKind = Literal["call", "email", "conversation", "linkedin", "other"]

MeetingStatus = Literal[
    "booked",
    "held",
    "no_show",
    "rescheduled_by_prospect",
    "rescheduled_by_sales",
    "cancelled_by_prospect",
    "cancelled_by_sales",
    "flagged_bad",
]


class ActivityLogged(Event):
    """A firm's touch on a contact. ``occurred_at`` is event time: a touch logged late but
    dated before a lead still counts for that lead."""

    event_type = "leadflow.activity.logged.v1"
    topic = ACTIVITIES_LOGGED

    activity_id: UUID
    firm_id: str
    kind: ActivityKind
    occurred_at: AwareDatetime
    logged_at: AwareDatetime
    contact_email: str
    email_domain: str
    lead_id: UUID | None = None
    notes: str | None = None

    def partition_key(self) -> str:
        return self.email_domain

    def subject(self) -> str:
        return f"activity/{self.activity_id}"

    def event_time(self) -> datetime:
        return self.occurred_at


class MeetingUpdated(Event):
    """A meeting booked by a firm, or a change to it, reported by the firm or by sales."""

    event_type = "leadflow.meeting.updated.v1"
    topic = MEETINGS_UPDATED

    meeting_id: UUID
    firm_id: str
    lead_id: UUID | None = None
    contact_email: str
    email_domain: str
    status: MeetingStatus
    scheduled_for: AwareDatetime | None = None
    occurred_at: AwareDatetime
    reported_at: AwareDatetime
    reported_by: Literal["firm", "sales", "ops"]
    comment: str | None = None
    actor: str | None = Field(default=None, description="The credential that reported it.")

    def partition_key(self) -> str:
        return str(self.lead_id or self.meeting_id)

    def subject(self) -> str:
        return f"meeting/{self.meeting_id}"

    def event_time(self) -> datetime:
        return self.occurred_at
