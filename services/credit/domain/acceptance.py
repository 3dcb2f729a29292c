"""Whether sales took the lead (sticking points 5 and 9, docs/design.md): accepted in time,
accepted by silence when the N business days pass, or returned with a reason inside the
return window — and a cap on returns per month. Pure: facts, terms, the as-of time and
how many of the firm's returns came earlier that month in; the lead's part out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.credit.domain.calendar import business_deadline
from services.credit.domain.contract import Terms
from services.credit.domain.facts import LeadFacts, StatusEvent
from services.credit.domain.reasons import Reason, when


@dataclass(frozen=True)
class LeadPart:
    counted_at: datetime | None  # when the lead came to count (None: not, or not yet)
    void: bool  # returned, or not accepted when silence means rejected
    return_claim: datetime | None  # a return inside the window (counts against the cap)
    due: datetime | None  # when the part changes if nothing else is heard
    notes: tuple[Reason, ...]


def acceptance_deadline(facts: LeadFacts, terms: Terms) -> datetime:
    assert facts.received is not None
    return business_deadline(
        facts.received.received_at,
        terms.acceptance_business_days,
        country=terms.country,
        timezone=terms.timezone,
    )


def returnable_until(facts: LeadFacts, terms: Terms) -> datetime:
    """A rejection or return voids credit until the later of the acceptance deadline and
    the return window's end."""
    assert facts.received is not None
    window_end = facts.received.received_at + timedelta(days=terms.return_window_days)
    return max(acceptance_deadline(facts, terms), window_end)


def _answers(facts: LeadFacts, stage: str) -> list[StatusEvent]:
    return sorted(
        (s for s in facts.statuses if s.stage == stage),
        key=lambda s: (s.occurred_at, s.reason_code or ""),
    )


def return_claim(facts: LeadFacts, terms: Terms) -> StatusEvent | None:
    """Sales' first rejection, if it is a return: in time and for a voiding reason."""
    rejected = _answers(facts, "rejected")
    if not rejected or terms.pays_for == "meeting":
        return None
    first = rejected[0]
    if first.occurred_at > returnable_until(facts, terms):
        return None
    return first if first.reason_code in terms.voiding_rejections else None


def lead_part(
    facts: LeadFacts, terms: Terms, as_of: datetime, *, returns_before: int = 0
) -> LeadPart:
    assert facts.received is not None
    notes: list[Reason] = []
    rejected = _answers(facts, "rejected")
    claim = return_claim(facts, terms)
    claimed_at = claim.occurred_at if claim else None
    if claim is not None:
        cap = terms.return_cap_per_month
        if cap is None or returns_before < cap:
            notes.append(
                Reason(
                    "acceptance.rejected",
                    f"Sales rejected the lead ({claim.reason_code}) within the "
                    f"{terms.return_window_days}-day return window.",
                )
            )
            return LeadPart(None, True, claimed_at, None, tuple(notes))
        notes.append(
            Reason(
                "acceptance.return_cap",
                f"Sales returned the lead ({claim.reason_code}), but the {cap} returns the "
                f"contract allows in {claim.occurred_at:%Y-%m} were already used; the "
                "credit stands.",
            )
        )
    elif rejected and rejected[0].occurred_at > returnable_until(facts, terms):
        notes.append(
            Reason(
                "acceptance.late_rejection",
                "Sales rejected the lead after the return window; the credit stands.",
            )
        )
    elif rejected:
        notes.append(
            Reason(
                "acceptance.not_a_return",
                f"A rejection for '{rejected[0].reason_code}' is not a return under the "
                "contract; the credit stands.",
            )
        )
    if terms.pays_for == "meeting":
        return LeadPart(None, False, None, None, tuple(notes))
    deadline = acceptance_deadline(facts, terms)
    days = terms.acceptance_business_days
    accepted = _answers(facts, "accepted")[:1]
    answered = [a.occurred_at for a in accepted]
    answered += [r.occurred_at for r in rejected[:1] if r.occurred_at <= deadline]
    for first in accepted:
        notes.append(
            Reason(
                "acceptance.accepted", f"Sales accepted the lead on {first.occurred_at:%Y-%m-%d}."
            )
        )
    if answered:
        counted = min(answered)
    elif days == 0:
        counted = facts.received.received_at
    elif as_of < deadline:
        notes.append(
            Reason(
                "acceptance.awaiting",
                f"Sales has until {when(deadline)} ({days} business days) to accept or "
                "reject the lead.",
            )
        )
        return LeadPart(None, False, claimed_at, deadline, tuple(notes))
    elif terms.silence_means == "accepted":
        counted = deadline
        notes.append(
            Reason(
                "acceptance.by_silence",
                f"Sales did not answer within {days} business days; the lead counts as accepted.",
            )
        )
    else:
        notes.append(
            Reason(
                "acceptance.not_accepted",
                f"Sales did not accept the lead within {days} business days; under the "
                "contract it does not count.",
            )
        )
        return LeadPart(None, True, claimed_at, None, tuple(notes))
    if rejected:  # the first rejection settled it: nothing later returns the lead
        return LeadPart(counted, False, claimed_at, None, tuple(notes))
    return _returnable(facts, terms, as_of, counted, notes)


def _returnable(
    facts: LeadFacts, terms: Terms, as_of: datetime, counted: datetime, notes: list[Reason]
) -> LeadPart:
    """A counted lead can still be returned until the window closes; then it is final."""
    until = returnable_until(facts, terms)
    if as_of < until:
        notes.append(Reason("return.open", f"Sales may still return the lead until {when(until)}."))
        return LeadPart(counted, False, None, until, tuple(notes))
    notes.append(
        Reason("return.closed", f"The return window closed on {until:%Y-%m-%d}; the lead counts.")
    )
    return LeadPart(counted, False, None, None, tuple(notes))
