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
    matched_on: str | None = None  # the domain, or the cleaned company name
    weak: bool = False  # a fuzzy name match below the rule set's threshold


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
    cross_sell: bool = False  # the firm may work the account although it is a customer
    in_notice: bool = False  # the lead fell in the assignment's notice period


class TeamRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    team_id: str
    name: str


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
    team: TeamRef | None = None
    rule: str | None = None  # the rule that decided
    reason: str = "received"  # why this revision: received, owner_rejected, account_changed
    previous_owner_id: str | None = None

    def partition_key(self) -> str:
        return self.account.account_id if self.account else str(self.lead_id)

    def subject(self) -> str:
        return f"lead/{self.lead_id}"

    def event_time(self) -> datetime:
        return self.decided_at


class RoutingAlert(Event):
    """Nobody could be found for a lead: it waits in a queue and someone must look."""

    event_type = "leadflow.routing.alert.v1"
    topic = LEADS_ROUTED

    lead_id: UUID
    revision: int
    kind: str  # "unassigned"
    queue: str
    detail: str
    raised_at: AwareDatetime

    def partition_key(self) -> str:
        return str(self.lead_id)

    def subject(self) -> str:
        return f"lead/{self.lead_id}"

    def event_time(self) -> datetime:
        return self.raised_at
