"""Ownership rules, applied in order; the first that matches decides.

This first rule set covers firm-assigned accounts (sticking points 1 and 3: the owning
AE gets the lead, flagged do-not-market and shared with the firm), named owners, and
the unassigned queue. Later rule sets add customers, territories and round robin.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.router.domain.matching import match_by_domain
from services.router.domain.model import Account, Decision, Lead, Step

RULESET_VERSION = "default-2026.11.1"
UNASSIGNED_QUEUE = "unassigned"


def route(lead: Lead, candidates: Iterable[Account]) -> Decision:
    match, match_step = match_by_domain(lead, candidates)
    trace = [match_step]
    account = match.account if match else None
    day = lead.received_at.date()

    assignment = account.firm_assignment if account else None
    if assignment is not None and account is not None and assignment.in_force_on(day):
        if account.owner is not None and account.owner.active:
            trace.append(
                Step(
                    "firm_assigned",
                    True,
                    f"{account.name} is assigned to firm {assignment.firm_id} on {day}; "
                    f"owning AE {account.owner.name}",
                )
            )
            return Decision(
                match,
                account.owner,
                None,
                ("do_not_market", "share_with_firm"),
                assignment,
                RULESET_VERSION,
                tuple(trace),
            )
        trace.append(Step("firm_assigned", False, f"{account.name} has no active owning AE"))
    elif assignment is not None:
        trace.append(
            Step(
                "firm_assigned", False, f"assignment to {assignment.firm_id} not in force on {day}"
            )
        )
        assignment = None
    else:
        trace.append(
            Step("firm_assigned", False, "no firm assignment" if account else "no account")
        )

    if account is not None and account.owner is not None and account.owner.active:
        trace.append(Step("named_owner", True, f"{account.name} is owned by {account.owner.name}"))
        return Decision(
            match,
            account.owner,
            None,
            _firm_flags(assignment),
            assignment,
            RULESET_VERSION,
            tuple(trace),
        )
    trace.append(Step("named_owner", False, "no active named owner"))

    trace.append(Step("unassigned", True, "no rule matched"))
    return Decision(
        match,
        None,
        UNASSIGNED_QUEUE,
        _firm_flags(assignment),
        assignment,
        RULESET_VERSION,
        tuple(trace),
    )


def _firm_flags(assignment: object) -> tuple[str, ...]:
    return ("do_not_market", "share_with_firm") if assignment else ()
