"""Notices for the people running Leadflow (topic ``ops.notices``): things no lead event
says but someone must act on. Ops publishes them; they are in its event log and stream
like any event (a partner firm sees those about its own subscriptions)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime, Field

from shared.events.base import Event
from shared.events.topics import OPS_NOTICES


class WebhookDisabled(Event):
    """A webhook subscription none of whose deliveries succeeded for the configured time
    was disabled: nothing more is sent to it until it is enabled again."""

    event_type = "leadflow.webhook.disabled.v1"
    topic = OPS_NOTICES

    subscription_id: UUID
    url: str
    firm_id: str | None = Field(
        default=None, description="The partner firm whose subscription it is; None: ops'."
    )
    failing_since: AwareDatetime
    disabled_at: AwareDatetime
    reason: str

    def partition_key(self) -> str:
        return str(self.subscription_id)

    def subject(self) -> str:
        return f"webhook/{self.subscription_id}"

    def event_time(self) -> datetime:
        return self.disabled_at
