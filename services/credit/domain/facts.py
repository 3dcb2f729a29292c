"""Everything credit knows about one lead, as plain data, in event time.

Facts arrive in any order (a meeting outcome can come before the routing decision);
they are kept as they come and the decision is a fold over all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID


@dataclass(frozen=True)
class Received:
    received_at: datetime
    channel: str
    submitted_by_firm: str | None
    email_domain: str
    fields: frozenset[str]  # which optional fields the lead came with (name, company, ...)
    source: str = ""  # the lead's source (a form, a webinar, a list), for inbound terms


@dataclass(frozen=True)
class Routed:
    revision: int
    firm_id: str | None
    starts_on: date | None
    account_name: str | None
    customer: bool
    cross_sell: bool
    in_notice: bool
    account_id: str | None = None  # the matched account (inbound caps count per account)


@dataclass(frozen=True)
class Touch:
    firm_id: str
    occurred_at: datetime
    email_domain: str = ""  # the account's domain (a lead's touches all share the lead's)


@dataclass(frozen=True)
class MeetingEvent:
    meeting_id: UUID
    status: str
    occurred_at: datetime
    reported_at: datetime
    scheduled_for: datetime | None
    reported_by: str


@dataclass(frozen=True)
class StatusEvent:
    stage: str
    reason_code: str | None
    occurred_at: datetime


@dataclass(frozen=True)
class DisputeEvent:
    kind: str  # opened (by the firm), upheld or overturned (by ops)
    occurred_at: datetime
    comment: str
    by: str = ""  # the firm that opened it, or the ops credential that settled it


@dataclass(frozen=True)
class LeadFacts:
    lead_id: UUID
    received: Received | None = None
    routed: Routed | None = None
    touches: tuple[Touch, ...] = ()
    meetings: tuple[MeetingEvent, ...] = ()
    statuses: tuple[StatusEvent, ...] = ()
    disputes: tuple[DisputeEvent, ...] = field(default=())
