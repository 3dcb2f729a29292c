"""A routing decision in one sentence an ops person can read, e.g. "Routed to Dana Ortiz
(AE) because account Walmart (matched by domain walmart.com) is assigned to
acme-outreach until 2026-12-31; marked do-not-market." """

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.router.domain.model import Decision

_MARKS = {
    "do_not_market": "marked do-not-market",
    "share_with_firm": "shared with the firm",
    "weak_match": "weak name match, check it",
}


def explain(decision: Decision) -> str:
    if decision.owner is not None:
        who = f"Routed to {decision.owner.name} ({decision.owner.role})"
    else:
        who = f"Queued in {decision.queue}"
    because = decision.because or (
        "no account matched" if decision.match is None else "of the rule set"
    )
    marks = [_MARKS[f] for f in ("do_not_market", "weak_match") if f in decision.flags]
    tail = "".join(f"; {m}" for m in marks)
    return f"{who} because {because}{tail}."
