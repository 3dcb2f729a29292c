"""Events about routing decisions: who owns a lead, and the trace of why."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.events.base import Event
from shared.events.topics import LEADS_ROUTED


class AccountMatch(BaseModel):
    model_config = ConfigDict(frozen=True)

    account_id: str
    name: str
    method: str
    score: float


class OwnerRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    owner_id: str
    name: str
    role: str


class FirmAssignment(BaseModel):
    """The outside firm's assignment of the account, as it was in force at the lead's time."""

    model_config = ConfigDict(frozen=True)

    firm_id: str
    starts_on: date
    ends_on: date | None = None
    notice_ends_on: date | None = None


class TraceStep(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule: str
    matched: bool
    reason: str


class LeadRouted(Event):
    """A routing decision (a new revision each time the lead is routed again)."""

    event_type = "leadflow.lead.routed.v1"
    topic = LEADS_ROUTED

    lead_id: UUID
    revision: int
    lead_received_at: AwareDatetime
    decided_at: AwareDatetime
    channel: str
    account: AccountMatch | None
    owner: OwnerRef | None
    queue: str | None
    flags: list[str]
    firm_assignment: FirmAssignment | None
    ruleset_version: str
    trace: list[TraceStep]
    explanation: str

    def partition_key(self) -> str:
        return self.account.account_id if self.account else str(self.lead_id)

    def subject(self) -> str:
        return f"lead/{self.lead_id}"

    def event_time(self) -> datetime:
        return self.decided_at
