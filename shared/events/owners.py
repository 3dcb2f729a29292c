"""The owner directory: an owner's record as the router keeps it, published each time it
is created or changed (topic ``owners.updated``, keyed by owner id, one partition so every
change is in order). Ops reads the latest one of each owner to address its notifications:
the owner's email and Slack incoming webhook, manager and business hours."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.base import Event
from shared.events.topics import OWNERS_UPDATED


class OwnerChannels(BaseModel):
    """Where an owner is told of their leads; a channel left out is not used."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email: str | None = Field(default=None, max_length=320)
    slack_webhook_url: str | None = Field(
        default=None,
        max_length=2000,
        description="A Slack (or Slack-compatible) incoming webhook; it is a secret.",
    )


class OwnerUpdated(Event):
    """An owner created or changed (the whole record after the change)."""

    event_type = "leadflow.owner.updated.v1"
    topic = OWNERS_UPDATED

    owner_id: str
    name: str
    role: str
    active: bool
    team_id: str | None = None
    manager_id: str | None = None
    business_hours: dict[str, Any] | None = None  # shared.business_hours.BusinessHours
    notify: OwnerChannels = OwnerChannels()
    updated_at: AwareDatetime

    def partition_key(self) -> str:
        return self.owner_id

    def subject(self) -> str:
        return f"owner/{self.owner_id}"

    def event_time(self) -> datetime:
        return self.updated_at
