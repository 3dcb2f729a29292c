"""Disputes (sticking point 8, docs/design.md): sales flags a meeting as bad, or the firm
contests a decision; ops settles it. Pure: the lead's facts in, whether a dispute is open
and how the last one was settled out.

What the verdicts mean, for the firm: **upheld** — what was contested stands against the
firm (sales' flag stands, so the meeting earns nothing; the contested decision stands);
**overturned** — it is reversed in the firm's favour (the flagged meeting counts as held;
the contested decision becomes a credit at the lead's price). A verdict settles every
dispute opened before it; a settled lead's decision is final.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.credit.domain.facts import LeadFacts
from services.credit.domain.reasons import Reason

Verdict = Literal["upheld", "overturned"]
SETTLEMENT_RULES = frozenset(
    {"dispute.upheld", "dispute.overturned", "meeting.flag_upheld", "meeting.flag_overturned"}
)
"""The reasons that say a dispute was settled: the revision carrying one for the first
time books a settlement line in the ledger, even when the amount does not change."""


@dataclass(frozen=True)
class Settlement:
    kind: Verdict
    at: datetime
    comment: str

    def said(self) -> str:
        comment = self.comment.strip()
        if len(comment) > 200:
            comment = comment[:199] + "…"
        return f' ("{comment}")' if comment else ""

    @property
    def reason(self) -> Reason:
        if self.kind == "upheld":
            return Reason(
                "dispute.upheld", f"Ops upheld the decision on {self.at:%Y-%m-%d}{self.said()}."
            )
        return Reason(
            "dispute.overturned",
            f"Ops overturned the decision in the firm's favour on {self.at:%Y-%m-%d}{self.said()}.",
        )


def settlement(facts: LeadFacts) -> Settlement | None:
    """Ops' latest verdict on the lead, if any."""
    verdicts = sorted(
        (d for d in facts.disputes if d.kind in ("upheld", "overturned")),
        key=lambda d: (d.occurred_at, d.kind),
    )
    if not verdicts:
        return None
    last = verdicts[-1]
    kind: Verdict = "upheld" if last.kind == "upheld" else "overturned"
    return Settlement(kind, last.occurred_at, last.comment)


def opened_at(facts: LeadFacts) -> datetime | None:
    """When the latest dispute was opened: the firm's, or sales flagging a meeting bad."""
    times = [d.occurred_at for d in facts.disputes if d.kind == "opened"]
    times += [m.occurred_at for m in facts.meetings if m.status == "flagged_bad"]
    return max(times, default=None)


def open_dispute(facts: LeadFacts) -> bool:
    """A dispute opened and not settled since (a verdict at the same instant settles it)."""
    opened = opened_at(facts)
    if opened is None:
        return False
    settled = settlement(facts)
    return settled is None or settled.at < opened


def dispute_refusal(state: str, facts: LeadFacts) -> str | None:
    """Why the firm cannot dispute its current decision now (a 409), or None if it can: a
    firm contests a decision that earns it nothing, once it is final, once."""
    if open_dispute(facts):
        return "A dispute is already open on this lead; ops will settle it."
    settled = settlement(facts)
    if settled is not None:
        return (
            f"Ops settled a dispute on this lead on {settled.at:%Y-%m-%d} ({settled.kind}); "
            "the decision is final."
        )
    if state == "pending":
        return "The decision is still pending; it can be disputed once it is decided."
    if state == "credited":
        return "The lead is credited; there is nothing to dispute."
    return None
