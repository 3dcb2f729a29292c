"""A routing decision in one sentence an ops person can read."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.router.domain.model import Decision


def explain(decision: Decision) -> str:
    match = decision.match
    if decision.owner is not None:
        who = f"Routed to {decision.owner.name} ({decision.owner.role})"
    else:
        who = f"Queued in {decision.queue}"
    if match is None:
        because = "because no account matched"
    else:
        because = (
            f"because account {match.account.name} (matched by {match.method} {match.matched_on})"
        )
        firm = decision.firm_assignment
        if firm is not None:
            until = f" until {firm.ends_on.isoformat()}" if firm.ends_on else ""
            because += f" is assigned to {firm.firm_id}{until}"
        elif decision.owner is not None:
            because += " is theirs"
        else:
            because += " has no active owner"
    marks = "; marked do-not-market" if "do_not_market" in decision.flags else ""
    return f"{who} {because}{marks}."
