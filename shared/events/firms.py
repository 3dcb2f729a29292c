"""Events about outside firms' access: partner API keys (digests only, never secrets).

Intake issues and revokes keys; any service with partner-facing endpoints keeps a
read-only copy from this topic (event-carried state, no shared tables)."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime

from shared.events.base import Event
from shared.events.topics import FIRMS_KEYS


class PartnerKeyChanged(Event):
    event_type = "leadflow.firm.key_changed.v1"
    topic = FIRMS_KEYS

    key_id: str
    firm_id: str
    token_sha256: str
    revoked: bool
    changed_at: AwareDatetime

    def partition_key(self) -> str:
        return self.key_id

    def subject(self) -> str:
        return f"firm/{self.firm_id}"

    def event_time(self) -> datetime:
        return self.changed_at
