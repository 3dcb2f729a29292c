"""The credit policy: a pure fold of everything known about a lead, under the firm's
contract, into a decision with reasons both sides can read.

No I/O and no clock: ``as_of`` is given, so the same facts, contract and ``as_of`` give
the same decision, whatever order the facts arrived in. A decision also says when it
would change with no new fact (``next_review_at``: an acceptance, return, reporting or
reschedule window closing, a holding period ending), so the service can look again then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from services.credit.domain.acceptance import LeadPart, lead_part
from services.credit.domain.contract import Contract, Terms
from services.credit.domain.facts import DisputeEvent, LeadFacts, MeetingEvent
from services.credit.domain.meetings import MeetingResult, meeting_outcome
from services.credit.domain.reasons import Reason
from shared.events.credit import CreditState

# .4: acceptance by silence in business days, return cap, unreported meetings count as
# held, holding period in the reasons, next review time
POLICY_VERSION = "credit-2026.11.4"
ZERO = Decimal("0.00")

__all__ = ["POLICY_VERSION", "ZERO", "Decision", "Reason", "decide"]


@dataclass(frozen=True)
class Decision:
    state: CreditState
    firm_id: str | None
    amount: Decimal
    currency: str
    reasons: tuple[Reason, ...]
    contract_version: str | None = None
    policy_version: str = POLICY_VERSION
    next_review_at: datetime | None = None  # the decision changes then if nothing else does
    payable_on: date | None = None  # a credited amount, after the holding period
    return_claimed_at: datetime | None = None  # a return counted against the monthly cap


def _final(  # noqa: PLR0917 - a decision with its one closing reason
    state: CreditState,
    firm: str | None,
    rule: str,
    sentence: str,
    contract: Contract | None = None,
    notes: tuple[Reason, ...] = (),
) -> Decision:
    currency = contract.terms.currency if contract else "USD"
    return Decision(
        state,
        firm,
        ZERO,
        currency,
        (*notes, Reason(rule, sentence)),
        contract.label if contract else None,
    )


def _dispute(disputes: tuple[DisputeEvent, ...]) -> tuple[str, datetime] | None:
    """The last word of the dispute history (opened, upheld or overturned) and its time."""
    if not disputes:
        return None
    last = sorted(disputes, key=lambda d: (d.occurred_at, d.kind))[-1]
    return last.kind, last.occurred_at


def _gate(  # noqa: PLR0911 - one early answer per rule reads best as a flat list
    facts: LeadFacts, contract: Contract | None
) -> Decision | list[Reason]:
    """Whether the lead can earn the firm anything at all (SP3, SP4, SP5, SP10): a final
    decision, or the notes gathered on the way through."""
    received, routed = facts.received, facts.routed
    if received is None or routed is None:
        firm = routed.firm_id if routed else None
        return _final(
            "pending",
            firm,
            "facts.awaiting",
            "Waiting for the lead's registration and routing decision.",
            contract,
        )
    firm = routed.firm_id
    where = f"account {routed.account_name}" if routed.account_name else "no matched account"
    if firm is None:
        return _final(
            "not_eligible",
            None,
            "firm.assignment",
            f"The lead is on {where}, which no outside firm holds.",
        )
    if contract is None:
        return _final("not_eligible", firm, "contract.missing", f"{firm} has no contract on file.")
    terms = contract.terms
    day = received.received_at.date()
    if day < terms.starts_on:
        return _final(
            "not_eligible",
            firm,
            "contract.not_started",
            f"The lead arrived before the contract started ({terms.starts_on}).",
            contract,
        )
    last_day = terms.last_day()
    if last_day is not None and day > last_day:
        return _final(
            "not_eligible",
            firm,
            "contract.ended",
            f"The lead arrived after the contract and its notice period ended ({last_day}).",
            contract,
        )
    notes: list[Reason] = []
    if routed.in_notice:
        notes.append(Reason("contract.notice", "The lead arrived in the notice period; it counts."))
    if routed.customer:
        if terms.customers == "excluded" or not routed.cross_sell:
            return _final(
                "not_eligible",
                firm,
                "customer.excluded",
                f"{routed.account_name} is an existing customer; the contract excludes customers.",
                contract,
                tuple(notes),
            )
        notes.append(Reason("customer.cross_sell", "A customer account open to cross-sell."))
    conflict = _prior_touch(facts, terms, firm)
    if conflict is not None:
        return _final(
            "not_eligible", firm, "conflict.prior_touch", conflict, contract, tuple(notes)
        )
    if received.submitted_by_firm != firm:
        inbound = _inbound(facts, terms, firm)
        if isinstance(inbound, str):
            return _final(
                "not_eligible",
                firm,
                inbound.split("|")[0],
                inbound.split("|")[1],
                contract,
                tuple(notes),
            )
        notes.append(inbound)
    missing = [f for f in terms.required_fields if f not in received.fields]
    if missing:
        return _final(
            "not_eligible",
            firm,
            "qualification.missing",
            f"The lead lacks what the contract requires: {', '.join(missing)}.",
            contract,
            tuple(notes),
        )
    return notes


def _prior_touch(facts: LeadFacts, terms: Terms, firm: str) -> str | None:
    """Conflicts: first registration wins inside the protection window. A lead the firm
    registered is not its own if another firm or the company's in-house team touched the
    contact's domain in the ``protection_days`` before it (event time, so a touch logged
    late but dated earlier still counts)."""
    received = facts.received
    if received is None or received.submitted_by_firm != firm or terms.protection_days == 0:
        return None
    since = received.received_at - timedelta(days=terms.protection_days)
    earlier = sorted(
        (
            t
            for t in facts.touches
            if t.firm_id != firm and since <= t.occurred_at < received.received_at
        ),
        key=lambda t: (t.occurred_at, t.firm_id),
    )
    if not earlier:
        return None
    first = earlier[0]
    return (
        f"{first.firm_id} touched the account on {first.occurred_at:%Y-%m-%d}, within "
        f"{terms.protection_days} days before {firm} registered the lead; it is theirs."
    )


def _inbound(facts: LeadFacts, terms: Terms, firm: str) -> Reason | str:
    """SP3: an inbound lead earns credit only after a recent touch by the firm. Returns
    the note, or "rule|sentence" of the refusal."""
    assert facts.received is not None
    received = facts.received
    if not terms.inbound_credit:
        return (
            "inbound.no_credit|An inbound lead; the contract pays only for leads the firm sourced."
        )
    since = received.received_at - timedelta(days=terms.inbound_lookback_days)
    touches = [
        t.occurred_at
        for t in facts.touches
        if t.firm_id == firm and since <= t.occurred_at <= received.received_at
    ]
    if not touches:
        return (
            f"inbound.no_touch|An inbound lead ({received.channel}) and {firm} logged no "
            f"touch in the {terms.inbound_lookback_days} days before it."
        )
    return Reason(
        "inbound.touch",
        f"An inbound lead, but {firm} touched the account on "
        f"{max(touches):%Y-%m-%d}, within {terms.inbound_lookback_days} days.",
    )


def _meetings(facts: LeadFacts, terms: Terms, as_of: datetime) -> list[MeetingResult]:
    if terms.pays_for == "lead":
        return []
    by_meeting: dict[str, list[MeetingEvent]] = {}
    for event in facts.meetings:
        by_meeting.setdefault(str(event.meeting_id), []).append(event)
    return [meeting_outcome(by_meeting[m], terms, as_of) for m in sorted(by_meeting)]


def _priced(
    terms: Terms, lead: LeadPart, meetings: list[MeetingResult], nth: int, notes: list[Reason]
) -> Decimal:
    """What the lead and its credited meetings earn, tiers applied (SP6, pricing)."""
    amount = ZERO
    if lead.counted_at is not None:
        amount += terms.price_per_lead
        notes.append(
            Reason("lead.credited", f"The lead earns {terms.price_per_lead} {terms.currency}.")
        )
    for result in meetings:
        notes.append(result.reason)
        if result.outcome == "credited":
            price = terms.meeting_price(nth)
            amount += price
            nth += 1
            notes.append(Reason("meeting.price", f"The meeting earns {price} {terms.currency}."))
    return amount


def _holding(
    terms: Terms, earned: list[datetime], as_of: datetime, notes: list[Reason]
) -> tuple[date, datetime | None]:
    """A credited amount becomes payable once the holding period after it was earned ends."""
    payable_from = max(earned, default=as_of) + timedelta(days=terms.holding_days)
    if as_of < payable_from:
        notes.append(
            Reason(
                "payment.holding",
                f"Payable from {payable_from:%Y-%m-%d}, after the {terms.holding_days}-day "
                "holding period.",
            )
        )
        return payable_from.date(), payable_from
    notes.append(Reason("payment.payable", f"Payable since {payable_from:%Y-%m-%d}."))
    return payable_from.date(), None


def decide(
    facts: LeadFacts,
    contract: Contract | None,
    *,
    as_of: datetime,
    nth_meeting_in_month: int = 1,
    returns_before: int = 0,
) -> Decision:
    """``nth_meeting_in_month``: the firm's held meetings already credited that month, plus
    one (volume tiers); ``returns_before``: the firm's returns earlier in the month of
    this lead's return (the cap)."""
    gate = _gate(facts, contract)
    if isinstance(gate, Decision):
        return gate
    assert contract is not None
    assert facts.routed is not None
    terms, notes = contract.terms, gate
    lead = lead_part(facts, terms, as_of, returns_before=returns_before)
    notes.extend(lead.notes)
    meetings = _meetings(facts, terms, as_of)
    amount = _priced(terms, lead, meetings, nth_meeting_in_month, notes)
    outcomes = [m.outcome for m in meetings]
    dues = [d for d in (lead.due, *(m.due for m in meetings)) if d is not None]
    earned = [t for t in (lead.counted_at, *(m.earned_at for m in meetings)) if t is not None]
    verdict = _dispute(facts.disputes)
    state: CreditState
    if (verdict is not None and verdict[0] == "opened") or "disputed" in outcomes:
        state = "disputed"
        notes.append(Reason("dispute.open", "The decision is disputed and waits for ops."))
    elif verdict is not None and verdict[0] == "overturned":
        state = "credited"
        if amount == ZERO:
            amount = (
                terms.price_per_lead
                if terms.pays_for != "meeting"
                else terms.meeting_price(nth_meeting_in_month)
            )
        earned.append(verdict[1])
        notes.append(
            Reason("dispute.overturned", "Ops overturned the decision in the firm's favour.")
        )
    elif amount > ZERO:
        state = "credited"
    elif (
        (lead.due is not None and lead.counted_at is None)
        or "pending" in outcomes
        or (terms.pays_for == "meeting" and not outcomes and not lead.void)
    ):
        state = "pending"
        if terms.pays_for == "meeting" and not outcomes:
            notes.append(
                Reason("meeting.awaited", "The contract pays for held meetings; none yet.")
            )
    else:
        state = "void"
    if verdict is not None and verdict[0] == "upheld":
        notes.append(Reason("dispute.upheld", "Ops upheld the decision."))
    payable_on = None
    if state == "credited":
        payable_on, holding_due = _holding(terms, earned, as_of, notes)
        dues += [holding_due] if holding_due else []
    return Decision(
        state,
        facts.routed.firm_id,
        amount if state == "credited" else ZERO,
        terms.currency,
        tuple(notes),
        contract.label,
        next_review_at=min(dues, default=None),
        payable_on=payable_on,
        return_claimed_at=lead.return_claim,
    )
