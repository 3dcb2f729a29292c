"""Events about a routed lead's acceptance SLA: the owner reminded, the owner's manager
told that the SLA is breached, the lead reassigned to the next owner. Published by the
router's SLA timers on ``leads.status``, keyed by lead id (in order with the lead's
status changes)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime

from shared.events.base import Event
from shared.events.topics import LEADS_STATUS


class _SlaEvent(Event):
    lead_id: UUID
    account_id: str | None
    owner_id: str | None  # the owner who had to accept
    revision: int  # the routing revision that started the SLA
    routed_at: AwareDatetime
    due_at: AwareDatetime  # the SLA's deadline
    sla_name: str
    sla_minutes: int  # business minutes in the owner's calendar
    occurred_at: AwareDatetime  # when the timer was due (event time)

    def partition_key(self) -> str:
        return str(self.lead_id)

    def subject(self) -> str:
        return f"lead/{self.lead_id}"

    def event_time(self) -> datetime:
        return self.occurred_at


class LeadSlaReminder(_SlaEvent):
    """The owner has not accepted or rejected the lead yet; part of the SLA is gone."""

    event_type = "leadflow.lead.sla_reminder.v1"
    topic = LEADS_STATUS


class LeadSlaBreached(_SlaEvent):
    """The SLA is over without acceptance or rejection: the owner's manager is told."""

    event_type = "leadflow.lead.sla_breached.v1"
    topic = LEADS_STATUS

    manager_id: str | None  # the manager notified (None: the owner has none)


class LeadReassigned(_SlaEvent):
    """A second SLA went by: the lead was routed again by the rules, skipping every
    owner it already had; ``to_revision`` is the new ``lead.routed`` revision."""

    event_type = "leadflow.lead.reassigned.v1"
    topic = LEADS_STATUS

    from_owner_id: str | None
    to_owner_id: str | None  # None: nobody else could take it; it waits in ``queue``
    to_revision: int
    rule: str | None  # the rule that picked the new owner
    queue: str | None = None
