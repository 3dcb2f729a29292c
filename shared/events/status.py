"""Events about a lead's stage after routing: acceptance, rejection, later funnel stages."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime

from shared.events.base import Event
from shared.events.topics import LEADS_RECEIVED, LEADS_STATUS

RejectionReason = Literal[
    "wrong_owner",
    "contact_left_company",
    "unreachable_contact",
    "missing_information",
    "not_icp",
    "duplicate",
    "other",
]

LeadStage = Literal[
    "accepted",
    "rejected",
    "qualified",
    "disqualified",
    "opportunity",
    "closed_won",
    "closed_lost",
]


class LeadStatusChanged(Event):
    """Sales (or a CRM sync) moved the lead to a new stage."""

    event_type = "leadflow.lead.status_changed.v1"
    topic = LEADS_STATUS

    lead_id: UUID
    stage: LeadStage
    reason_code: RejectionReason | None = None
    comment: str | None = None
    actor: str
    occurred_at: AwareDatetime

    def partition_key(self) -> str:
        return str(self.lead_id)

    def subject(self) -> str:
        return f"lead/{self.lead_id}"

    def event_time(self) -> datetime:
        return self.occurred_at


class LeadDuplicate(Event):
    """The same person from the same source within the window: a repeat touch of an
    existing lead, not a new lead."""

    event_type = "leadflow.lead.duplicate.v1"
    topic = LEADS_RECEIVED

    lead_id: UUID
    submission_id: UUID
    channel: str
    source: str
    campaign: str | None = None
    firm_id: str | None = None
    received_at: AwareDatetime

    def partition_key(self) -> str:
        return str(self.lead_id)

    def subject(self) -> str:
        return f"lead/{self.lead_id}"

    def event_time(self) -> datetime:
        return self.received_at
