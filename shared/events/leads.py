"""Events about leads as intake registers them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime

from shared.events.base import Event
from shared.events.topics import LEADS_RECEIVED


class LeadReceived(Event):
    """A new lead was registered. Published exactly once per lead (by event id)."""

    event_type = "leadflow.lead.received.v1"
    topic = LEADS_RECEIVED

    lead_id: UUID
    received_at: AwareDatetime
    channel: str
    source: str
    campaign: str | None = None
    firm_id: str | None = None
    email: str
    email_domain: str
    free_mail: bool = False
    name: str | None = None
    company: str | None = None
    title: str | None = None
    phone: str | None = None
    country: str | None = None

    def partition_key(self) -> str:
        return str(self.lead_id)

    def subject(self) -> str:
        return f"lead/{self.lead_id}"

    def event_time(self) -> datetime:
        return self.received_at
