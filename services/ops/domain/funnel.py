"""The funnel per channel and campaign, for return on investment: of the leads received,
how many were accepted, had a meeting held, were credited to a firm, were won.

A lead counts at a step when it ever reached it (a lead accepted then qualified counts as
accepted); credit is its latest decision's state.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel

# Every stage that comes after acceptance means the lead was accepted first.
ACCEPTED_STAGES = frozenset(
    {"accepted", "qualified", "disqualified", "opportunity", "closed_won", "closed_lost"}
)
NO_CAMPAIGN = "(none)"
STEPS = ("received", "accepted", "meeting_held", "credited", "won")


@dataclass(frozen=True)
class LeadProgress:
    channel: str | None
    campaign: str | None
    stages: frozenset[str]
    meeting_statuses: frozenset[str]
    credit_state: str | None
    credit_amount: str | None


class FunnelRow(BaseModel):
    channel: str
    campaign: str
    received: int = 0
    accepted: int = 0
    meeting_held: int = 0
    credited: int = 0
    won: int = 0
    credited_amount: Decimal = Decimal("0")

    def add(self, lead: LeadProgress) -> None:
        self.received += 1
        self.accepted += bool(lead.stages & ACCEPTED_STAGES)
        self.meeting_held += "held" in lead.meeting_statuses
        self.won += "closed_won" in lead.stages
        if lead.credit_state == "credited":
            self.credited += 1
            self.credited_amount += _amount(lead.credit_amount)

    def rate(self, step: str) -> float:
        """The share of received leads that reached ``step``."""
        count: int = getattr(self, step)
        return round(count / self.received, 4) if self.received else 0.0


class Funnel(BaseModel):
    rows: list[FunnelRow]
    total: FunnelRow


def _amount(value: str | None) -> Decimal:
    try:
        return Decimal(value or "0")
    except InvalidOperation:
        return Decimal("0")


def funnel(leads: Iterable[LeadProgress]) -> Funnel:
    """Rows per (channel, campaign), the busiest first, and the total."""
    rows: dict[tuple[str, str], FunnelRow] = {}
    total = FunnelRow(channel="all", campaign="all")
    for lead in leads:
        key = (lead.channel or "unknown", lead.campaign or NO_CAMPAIGN)
        rows.setdefault(key, FunnelRow(channel=key[0], campaign=key[1])).add(lead)
        total.add(lead)
    ordered = sorted(rows.values(), key=lambda r: (-r.received, r.channel, r.campaign))
    return Funnel(rows=ordered, total=total)


# A spreadsheet runs a cell that starts with one of these as a formula; channel and
# campaign come from whoever submitted the lead (a partner's API call, a webhook's payload,
# an imported CSV).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str) -> str:
    """A text cell a spreadsheet shows as text: a leading quote before a formula start."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def funnel_csv(result: Funnel) -> str:
    """The funnel as CSV: one line per channel and campaign, then the total, with each
    step's count and its share of received. Channel and campaign are text cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["channel", "campaign", *STEPS, "credited_amount"] + [f"{step}_rate" for step in STEPS[1:]]
    )
    for row in [*result.rows, result.total]:
        writer.writerow(
            [text_cell(row.channel), text_cell(row.campaign)]
            + [*(getattr(row, s) for s in STEPS), row.credited_amount]
            + [row.rate(s) for s in STEPS[1:]]
        )
    return out.getvalue()
