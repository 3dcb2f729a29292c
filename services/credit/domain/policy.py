"""The credit policy: a pure fold of everything known about a lead, under the firm's
contract, into a decision with reasons both sides can read.

No I/O and no clock: ``as_of`` is given, so the same facts, contract and ``as_of`` give
the same decision, whatever order the facts arrived in. A decision also says when it
would change with no new fact (``next_review_at``: an acceptance, return, reporting or
reschedule window closing, a holding period ending), so the service can look again then.

Whose decision it is (the *claimant*): the firm that submitted the lead, or, for a lead
that came in through the company's own channels, the firm that holds its account. Only
the claimant's own facts bear on it: another firm's touches, leads or disputes never
reverse, block or delay it, and no reason names another firm.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from services.credit.domain.acceptance import LeadPart, lead_part
from services.credit.domain.contract import Contract, Terms
from services.credit.domain.disputes import Settlement, open_dispute, settlement
from services.credit.domain.facts import LeadFacts, MeetingEvent, Received, Routed
from services.credit.domain.meetings import MeetingResult, meeting_outcome
from services.credit.domain.reasons import Reason
from services.credit.domain.tiers import NO_MEETINGS, Ladder, MeetingPlace, month_of, rank
from shared.events.credit import CreditState

# .5: the claimant's facts only (no cross-firm conflicts), inbound channels, sources and
# cap, disputes that settle (also of not-eligible decisions), sales' move keeps credit;
# .6: a sales move counts only from the company's side; a customer account says so;
# .7: a meeting's volume tier is its rank in its month in event time (not arrival order)
POLICY_VERSION = "credit-2026.12.7"
ZERO = Decimal("0.00")

__all__ = ["POLICY_VERSION", "ZERO", "Decision", "Reason", "claimant", "decide", "inbound_claim"]


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
    meetings_credited: tuple[MeetingPlace, ...] = ()  # places in the month (volume tiers)


def claimant(received: Received, routed: Routed) -> str | None:
    """The firm the lead can earn: the one that submitted it, else the account's firm."""
    return received.submitted_by_firm or routed.firm_id


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


def _no_claim(received: Received, routed: Routed, contract: Contract | None) -> Decision | None:
    """Why the lead has no firm it can earn (SP4 customers, the account's assignment, the
    contract), or None."""
    firm = claimant(received, routed)
    where = f"account {routed.account_name}" if routed.account_name else "no matched account"
    if routed.customer and routed.firm_id is None:  # SP4: the router kept the firm off it
        return _final(
            "not_eligible",
            firm,
            "customer.excluded",
            f"The lead is on {where}, an existing customer its account manager owns; it "
            "earns no firm credit.",
            contract,
        )
    if firm is None:
        return _final(
            "not_eligible",
            None,
            "firm.assignment",
            f"The lead is on {where}, which no outside firm holds.",
        )
    if routed.firm_id != firm:  # submitted by a firm the account is not assigned to
        return _final(
            "not_eligible",
            firm,
            "firm.not_assigned",
            f"The lead is on {where}, which is not assigned to {firm}.",
            contract,
        )
    if contract is None:
        return _final("not_eligible", firm, "contract.missing", f"{firm} has no contract on file.")
    return None


def _gate(  # noqa: PLR0911 - one early answer per rule reads best as a flat list
    facts: LeadFacts, contract: Contract | None, inbound_before: int
) -> Decision | list[Reason]:
    """Whether the lead can earn the firm anything at all (SP3, SP4, SP5, SP10): a final
    decision, or the notes gathered on the way through."""
    received, routed = facts.received, facts.routed
    if received is None or routed is None:
        firm = received.submitted_by_firm if received else None
        return _final(
            "pending",
            firm or (routed.firm_id if routed else None),
            "facts.awaiting",
            "Waiting for the lead's registration and routing decision.",
            contract,
        )
    refusal = _no_claim(received, routed, contract)
    if refusal is not None:
        return refusal
    firm = claimant(received, routed)
    assert firm is not None
    assert contract is not None
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
    if received.submitted_by_firm is None:
        inbound = _inbound(facts, terms, firm, inbound_before)
        if inbound.refused:
            return _final(
                "not_eligible", firm, inbound.rule, inbound.sentence, contract, tuple(notes)
            )
        notes.append(inbound.reason)
    return notes


@dataclass(frozen=True)
class _Inbound:
    rule: str
    sentence: str
    refused: bool

    @property
    def reason(self) -> Reason:
        return Reason(self.rule, self.sentence)


def _latest_own_touch(facts: LeadFacts, terms: Terms, firm: str) -> datetime | None:
    assert facts.received is not None
    at = facts.received.received_at
    since = at - timedelta(days=terms.inbound_lookback_days)
    own = [t.occurred_at for t in facts.touches if t.firm_id == firm and since <= t.occurred_at]
    return max((t for t in own if t <= at), default=None)


def _inbound_refusal(facts: LeadFacts, terms: Terms, firm: str) -> _Inbound | None:
    """SP3, before any cap: why an inbound lead cannot earn ``firm`` credit, or None."""
    assert facts.received is not None
    received = facts.received
    if not terms.inbound_credit:
        return _Inbound(
            "inbound.no_credit",
            "An inbound lead; the contract pays only for leads the firm sourced.",
            refused=True,
        )
    if received.channel not in terms.inbound_channels:
        return _Inbound(
            "inbound.channel",
            f"An inbound lead from the {received.channel} channel; the contract credits "
            f"inbound leads only from {', '.join(terms.inbound_channels) or 'no channel'}.",
            refused=True,
        )
    if terms.inbound_sources is not None and received.source not in terms.inbound_sources:
        return _Inbound(
            "inbound.source",
            f"An inbound lead from source '{received.source}', which the contract does not credit.",
            refused=True,
        )
    if _latest_own_touch(facts, terms, firm) is None:
        return _Inbound(
            "inbound.no_touch",
            f"An inbound lead ({received.channel}) and {firm} logged no touch in the "
            f"{terms.inbound_lookback_days} days before it.",
            refused=True,
        )
    return None


def inbound_claim(facts: LeadFacts, contract: Contract | None) -> datetime | None:
    """When an inbound lead takes a place under the contract's monthly cap on its account:
    its receipt, if it passes every other gate (None otherwise, or with no cap). The
    service counts the places taken before it and passes them to ``decide``."""
    received, routed = facts.received, facts.routed
    if contract is None or received is None or routed is None or received.submitted_by_firm:
        return None
    if contract.terms.inbound_cap_per_account_per_month is None:
        return None
    gate = _gate(facts, contract, inbound_before=0)
    return received.received_at if isinstance(gate, list) else None


def _inbound(facts: LeadFacts, terms: Terms, firm: str, before: int) -> _Inbound:
    """SP3: an inbound lead earns credit only from the contract's channels and sources,
    after a recent touch by the firm itself, within the monthly cap on its account."""
    refusal = _inbound_refusal(facts, terms, firm)
    if refusal is not None:
        return refusal
    assert facts.received is not None
    cap = terms.inbound_cap_per_account_per_month
    if cap is not None and before >= cap:
        return _Inbound(
            "inbound.cap",
            f"The contract credits at most {cap} inbound leads a month on one account; "
            f"{cap} were credited before this one in {facts.received.received_at:%Y-%m}.",
            refused=True,
        )
    touched = _latest_own_touch(facts, terms, firm)
    assert touched is not None
    return _Inbound(
        "inbound.touch",
        f"An inbound lead, but {firm} touched the account on {touched:%Y-%m-%d}, within "
        f"{terms.inbound_lookback_days} days.",
        refused=False,
    )


def _meetings(
    facts: LeadFacts, terms: Terms, as_of: datetime, settled: Settlement | None
) -> list[tuple[str, MeetingResult]]:
    """Each meeting's outcome, by meeting id."""
    if terms.pays_for == "lead":
        return []
    by_meeting: dict[str, list[MeetingEvent]] = {}
    for event in facts.meetings:
        by_meeting.setdefault(str(event.meeting_id), []).append(event)
    return [(m, meeting_outcome(by_meeting[m], terms, as_of, settled)) for m in sorted(by_meeting)]


def _priced(
    terms: Terms,
    lead: LeadPart,
    meetings: list[tuple[str, MeetingResult]],
    others: Ladder,
    notes: list[Reason],
) -> tuple[Decimal, tuple[MeetingPlace, ...]]:
    """What the lead and its credited meetings earn, each meeting at the tier of its rank
    in its month (SP6, pricing); and the credited meetings' places."""
    amount = ZERO
    if lead.counted_at is not None:
        amount += terms.price_per_lead
        notes.append(
            Reason("lead.credited", f"The lead earns {terms.price_per_lead} {terms.currency}.")
        )
    credited = [(m.earned_at, meeting) for meeting, m in meetings if m.outcome == "credited"]
    places = tuple(sorted((at, meeting) for at, meeting in credited if at is not None))
    for meeting, result in meetings:
        notes.append(result.reason)
        if result.outcome == "credited" and result.earned_at is not None:
            nth = rank(others, places, (result.earned_at, meeting))
            price = terms.meeting_price(nth)
            amount += price
            sentence = f"The meeting earns {price} {terms.currency}"
            if len(terms.meeting_tiers) > 1:
                sentence += f", the {_ordinal(nth)} credited in {month_of(result.earned_at)}"
            notes.append(Reason("meeting.price", sentence + "."))
    return amount, places


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _base_price(terms: Terms, others: Ladder, at: datetime) -> Decimal:
    """What an overturned decision pays when nothing else earns: the lead's price, or a
    meeting's under a meetings-only contract (at the tier of the settlement's rank)."""
    if terms.pays_for != "meeting":
        return terms.price_per_lead
    return terms.meeting_price(rank(others, (), (at, "")))


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


def _settled_gate(
    gate: Decision, facts: LeadFacts, contract: Contract, as_of: datetime, others: Ladder
) -> Decision:
    """A not-eligible decision the firm disputed (SP8): disputed until ops settles it;
    upheld, it stands; overturned, the firm is credited the lead's (or a meeting's) price."""
    settled = settlement(facts)
    if not any(d.kind == "opened" for d in facts.disputes):
        return gate
    terms, notes = contract.terms, list(gate.reasons)
    if open_dispute(facts) or settled is None:
        notes.append(
            Reason("dispute.open", f"{gate.firm_id} disputes the decision; ops will settle it.")
        )
        return replace(gate, state="disputed", reasons=tuple(notes))
    notes.append(settled.reason)
    if settled.kind == "upheld":
        return replace(gate, reasons=tuple(notes))
    price = _base_price(terms, others, settled.at)
    notes.append(Reason("dispute.price", f"The lead earns {price} {terms.currency}."))
    payable_on, due = _holding(terms, [settled.at], as_of, notes)
    return replace(
        gate,
        state="credited",
        amount=price,
        reasons=tuple(notes),
        next_review_at=due,
        payable_on=payable_on,
    )


def decide(
    facts: LeadFacts,
    contract: Contract | None,
    *,
    as_of: datetime,
    other_meetings: Ladder = NO_MEETINGS,
    returns_before: int = 0,
    inbound_before: int = 0,
) -> Decision:
    """``other_meetings``: the firm's meetings credited on its other leads, by month, in
    event time (a meeting's volume tier is its rank there); ``returns_before``: the
    firm's returns earlier in the month of this lead's return (the cap);
    ``inbound_before``: the inbound credits on the lead's account earlier in its month
    (the inbound cap)."""
    gate = _gate(facts, contract, inbound_before)
    if isinstance(gate, Decision):
        if contract is not None and gate.state == "not_eligible" and gate.firm_id:
            return _settled_gate(gate, facts, contract, as_of, other_meetings)
        return gate
    assert contract is not None
    assert facts.routed is not None
    assert facts.received is not None
    terms, notes = contract.terms, gate
    settled = settlement(facts)
    lead = lead_part(facts, terms, as_of, returns_before=returns_before)
    notes.extend(lead.notes)
    meetings = _meetings(facts, terms, as_of, settled)
    amount, places = _priced(terms, lead, meetings, other_meetings, notes)
    results = [m for _, m in meetings]
    outcomes = [m.outcome for m in results]
    dues = [d for d in (lead.due, *(m.due for m in results)) if d is not None]
    earned = [t for t in (lead.counted_at, *(m.earned_at for m in results)) if t is not None]
    firm_disputed = any(d.kind == "opened" for d in facts.disputes)
    state: CreditState
    if "disputed" in outcomes or (firm_disputed and open_dispute(facts)):
        state = "disputed"
        notes.append(Reason("dispute.open", "The decision is disputed and waits for ops."))
    elif firm_disputed and settled is not None and settled.kind == "overturned":
        state = "credited"
        if amount == ZERO:
            amount = _base_price(terms, other_meetings, settled.at)
        earned.append(settled.at)
        notes.append(settled.reason)
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
    if firm_disputed and settled is not None and settled.kind == "upheld":
        notes.append(settled.reason)
    payable_on = None
    if state == "credited":
        payable_on, holding_due = _holding(terms, earned, as_of, notes)
        dues += [holding_due] if holding_due else []
    return Decision(
        state,
        claimant(facts.received, facts.routed),
        amount if state == "credited" else ZERO,
        terms.currency,
        tuple(notes),
        contract.label,
        next_review_at=min(dues, default=None),
        payable_on=payable_on,
        return_claimed_at=lead.return_claim,
        meetings_credited=places if state == "credited" else (),
    )
