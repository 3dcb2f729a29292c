"""The acceptance SLA as data, and the timers it sets when a lead is routed.

An owner must accept or reject a routed lead within ``accept_within_minutes`` of their
business hours (sticking point 5, docs/design.md: "sales accepts or rejects, with a
reason, within N days"). At ``reminder_share`` of it the owner is reminded; at the SLA
the owner's manager is told (escalation); at ``reassign_share`` of it (2: a second SLA)
the lead is routed again, to someone else. The SLA comes from the rule that routed the
lead, else from the owner's team, else from the rule set. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.business_hours import (
    BusinessCalendar,
    add_business_minutes,
)

TimerKind = Literal["reminder", "breach", "reassign"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SlaPolicy(_Strict):
    name: str = Field(default="accept-4h", min_length=1, max_length=100)
    accept_within_minutes: int = Field(default=240, ge=1, le=60 * 24 * 60)
    reminder_share: float = Field(default=0.5, gt=0, lt=1)
    reassign_share: float | None = Field(
        default=2.0, gt=1, le=10, description="None: never reassign, only escalate"
    )


DEFAULT_SLA = SlaPolicy()


def policy_for(
    rule: SlaPolicy | None, team: SlaPolicy | None, ruleset: SlaPolicy | None
) -> SlaPolicy:
    """The most specific SLA: the deciding rule's, the owner's team's, the rule set's."""
    return rule or team or ruleset or DEFAULT_SLA


@dataclass(frozen=True)
class PlannedTimer:
    kind: TimerKind
    after_minutes: int  # business minutes after the routing
    fire_at: datetime
    due_at: datetime  # the SLA's deadline (the breach)


def plan(policy: SlaPolicy, calendar: BusinessCalendar, routed_at: datetime) -> list[PlannedTimer]:
    """The timers a lead routed at ``routed_at`` gets, in firing order."""
    minutes = policy.accept_within_minutes
    steps: list[tuple[TimerKind, int]] = [
        ("reminder", max(1, round(minutes * policy.reminder_share))),
        ("breach", minutes),
    ]
    if policy.reassign_share is not None:
        steps.append(("reassign", round(minutes * policy.reassign_share)))
    due_at = add_business_minutes(calendar, routed_at, minutes)
    return [
        PlannedTimer(kind, after, add_business_minutes(calendar, routed_at, after), due_at)
        for kind, after in steps
    ]
