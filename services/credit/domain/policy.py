"""The credit policy: a pure function of the known facts about a lead.

This first policy credits the firm for a lead on an account assigned to it at the
lead's time (sticking points 3 and 10 as router saw them) at the contract's price per
lead, and otherwise says the lead is not eligible. Later versions fold in touches,
meetings, acceptance and disputes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from shared.events.credit import CreditState

POLICY_VERSION = "credit-2026.11.1"


@dataclass(frozen=True)
class Terms:
    price_per_lead: Decimal = Decimal("150.00")
    currency: str = "USD"


@dataclass(frozen=True)
class RoutingFacts:
    lead_id: UUID
    routing_revision: int
    firm_id: str | None
    account_name: str | None


@dataclass(frozen=True)
class Reason:
    rule: str
    sentence: str


@dataclass(frozen=True)
class Decision:
    state: CreditState
    firm_id: str | None
    amount: Decimal
    currency: str
    reasons: tuple[Reason, ...]
    policy_version: str = POLICY_VERSION


def decide(facts: RoutingFacts, terms: Terms) -> Decision:
    if facts.firm_id is None:
        where = f"account {facts.account_name}" if facts.account_name else "no matched account"
        return Decision(
            "not_eligible",
            None,
            Decimal("0.00"),
            terms.currency,
            (Reason("firm.assignment", f"The lead is on {where}, which no outside firm holds."),),
        )
    return Decision(
        "credited",
        facts.firm_id,
        terms.price_per_lead,
        terms.currency,
        (
            Reason(
                "firm.assignment",
                f"Account {facts.account_name} was assigned to {facts.firm_id} when the lead "
                f"arrived, so the lead is credited at {terms.price_per_lead} {terms.currency}.",
            ),
        ),
    )
