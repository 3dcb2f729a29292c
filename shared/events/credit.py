"""Events about credit decisions for outside firms."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.events.base import Event
from shared.events.topics import CREDITS_DECIDED

CreditState = Literal["pending", "credited", "not_eligible", "void", "disputed", "reversed"]


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule: str
    sentence: str


class CreditDecided(Event):
    """A credit decision (a new revision each time the facts change it)."""

    event_type = "leadflow.credit.decided.v1"
    topic = CREDITS_DECIDED

    lead_id: UUID
    revision: int
    routing_revision: int
    firm_id: str | None
    state: CreditState
    amount: Decimal
    currency: str
    policy_version: str
    reasons: list[Reason]
    decided_at: AwareDatetime

    def partition_key(self) -> str:
        return str(self.lead_id)

    def subject(self) -> str:
        return f"lead/{self.lead_id}"

    def event_time(self) -> datetime:
        return self.decided_at
