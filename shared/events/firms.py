"""Events about outside firms that other services act on: a firm's contract changed.

Credit owns contracts; intake keeps the one term it enforces at the door (how many days
back a firm may report a touch or a meeting change)."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, Field

from shared.events.base import Event
from shared.events.topics import FIRMS_CONTRACTS

DEFAULT_REPORTING_WINDOW_DAYS = 7
"""A contract's default for how late a firm may report a touch or a meeting change (days);
intake applies it to a firm whose contract it has not heard of."""


class ContractChanged(Event):
    event_type = "leadflow.firm.contract_changed.v1"
    topic = FIRMS_CONTRACTS

    firm_id: str
    version: int
    reporting_window_days: int = Field(
        description="A touch or meeting change dated more than this many days before it is "
        "reported is refused."
    )
    changed_at: AwareDatetime

    def partition_key(self) -> str:
        return self.firm_id

    def subject(self) -> str:
        return f"firm/{self.firm_id}"

    def event_time(self) -> datetime:
        return self.changed_at
