"""The credit policy: a pure fold of everything known about a lead, under the firm's
contract, into a decision with reasons both sides can read.

No I/O and no clock: ``as_of`` is given, so the same facts, contract and ``as_of`` give
the same decision, whatever order the facts arrived in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from services.credit.domain.contract import Contract, Terms
from services.credit.domain.facts import DisputeEvent, LeadFacts, MeetingEvent
from shared.events.credit import CreditState

POLICY_VERSION = "credit-2026.11.3"  # .3: conflicts (prior touch in protection window)
ZERO = Decimal("0.00")


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
    contract_version: str | None = None
    policy_version: str = POLICY_VERSION


MeetingOutcome = str  # "credited", "pending", "void", "disputed"


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


def meeting_outcome(  # noqa: PLR0911 - one outcome per meeting rule
    events: list[MeetingEvent], terms: Terms, as_of: datetime
) -> tuple[MeetingOutcome, Reason]:
    """One meeting's outcome from its history (SP6, SP7, SP8)."""
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.reported_at, e.status))
    window = timedelta(days=terms.reschedule_window_days)
    flagged = [e for e in ordered if e.status == "flagged_bad"]
    held = [e for e in ordered if e.status == "held"]
    if flagged:
        return "disputed", Reason(
            "meeting.flagged_bad", "Sales flagged the meeting as bad; ops must settle it."
        )
    if held:
        return "credited", Reason(
            "meeting.held", f"The meeting was held on {held[0].occurred_at:%Y-%m-%d}."
        )
    last = ordered[-1]
    if last.status in ("rescheduled_by_sales", "cancelled_by_sales"):
        return "credited", Reason(
            "meeting.moved_by_sales",
            "The company's sales team moved or cancelled the meeting; the firm keeps the credit.",
        )
    if last.status == "no_show":
        due = (last.scheduled_for or last.occurred_at) + timedelta(hours=terms.no_show_report_hours)
        if last.reported_at > due:
            return "credited", Reason(
                "meeting.no_show_reported_late",
                f"The no-show was reported after {terms.no_show_report_hours} hours, "
                "so the meeting counts as held.",
            )
    if last.status in ("no_show", "rescheduled_by_prospect", "cancelled_by_prospect"):
        first_miss = next(
            e
            for e in ordered
            if e.status == last.status
            or e.status in ("no_show", "rescheduled_by_prospect", "cancelled_by_prospect")
        )
        deadline = first_miss.occurred_at + window
        if as_of < deadline:
            return "pending", Reason(
                "meeting.awaiting_reschedule",
                f"The prospect missed or moved the meeting; it earns credit if held by "
                f"{deadline:%Y-%m-%d}.",
            )
        return "void", Reason(
            "meeting.not_held_in_window",
            f"The prospect missed or moved the meeting and it was not held within "
            f"{terms.reschedule_window_days} days.",
        )
    return "pending", Reason("meeting.booked", "The meeting is booked and not yet held.")


def _dispute(disputes: tuple[DisputeEvent, ...]) -> str | None:
    """The last word of the dispute history: opened, upheld or overturned."""
    if not disputes:
        return None
    return sorted(disputes, key=lambda d: (d.occurred_at, d.kind))[-1].kind


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


def _lead_credit(facts: LeadFacts, terms: Terms, notes: list[Reason]) -> tuple[Decimal, bool]:
    """The lead's own price, unless sales returned it in time (SP5, SP9)."""
    assert facts.received is not None
    rejected = sorted(
        (s for s in facts.statuses if s.stage == "rejected"), key=lambda s: s.occurred_at
    )
    void = False
    if rejected:
        first = rejected[0]
        window_end = facts.received.received_at + timedelta(days=terms.return_window_days)
        if first.occurred_at > window_end:
            notes.append(
                Reason(
                    "acceptance.late_rejection",
                    "Sales rejected the lead after the return window; the credit stands.",
                )
            )
        elif first.reason_code in terms.voiding_rejections:
            void = True
            notes.append(
                Reason(
                    "acceptance.rejected",
                    f"Sales rejected the lead ({first.reason_code}) within the "
                    f"{terms.return_window_days}-day return window.",
                )
            )
        else:
            notes.append(
                Reason(
                    "acceptance.not_a_return",
                    f"A rejection for '{first.reason_code}' is not a return under the "
                    "contract; the credit stands.",
                )
            )
    if terms.pays_for == "meeting" or void:
        return ZERO, void
    notes.append(
        Reason("lead.credited", f"The lead earns {terms.price_per_lead} {terms.currency}.")
    )
    return terms.price_per_lead, void


def _meeting_credit(
    facts: LeadFacts, terms: Terms, as_of: datetime, nth: int, notes: list[Reason]
) -> tuple[Decimal, list[MeetingOutcome]]:
    if terms.pays_for == "lead":
        return ZERO, []
    by_meeting: dict[str, list[MeetingEvent]] = {}
    for event in facts.meetings:
        by_meeting.setdefault(str(event.meeting_id), []).append(event)
    amount, outcomes = ZERO, []
    for meeting_id in sorted(by_meeting):
        outcome, reason = meeting_outcome(by_meeting[meeting_id], terms, as_of)
        outcomes.append(outcome)
        notes.append(reason)
        if outcome == "credited":
            price = terms.meeting_price(nth)
            amount += price
            nth += 1
            notes.append(Reason("meeting.price", f"The meeting earns {price} {terms.currency}."))
    return amount, outcomes


def decide(
    facts: LeadFacts, contract: Contract | None, *, as_of: datetime, nth_meeting_in_month: int = 1
) -> Decision:
    gate = _gate(facts, contract)
    if isinstance(gate, Decision):
        return gate
    assert contract is not None
    assert facts.routed is not None
    terms, notes = contract.terms, gate
    lead_amount, lead_void = _lead_credit(facts, terms, notes)
    meeting_amount, outcomes = _meeting_credit(facts, terms, as_of, nth_meeting_in_month, notes)
    amount = lead_amount + meeting_amount
    verdict = _dispute(facts.disputes)
    state: CreditState
    if verdict == "opened" or "disputed" in outcomes:
        state = "disputed"
        notes.append(Reason("dispute.open", "The decision is disputed and waits for ops."))
    elif verdict == "overturned":
        state = "credited"
        if amount == ZERO:
            amount = (
                terms.price_per_lead
                if terms.pays_for != "meeting"
                else terms.meeting_price(nth_meeting_in_month)
            )
        notes.append(
            Reason("dispute.overturned", "Ops overturned the decision in the firm's favour.")
        )
    elif amount > ZERO:
        state = "credited"
    elif "pending" in outcomes or (terms.pays_for == "meeting" and not outcomes and not lead_void):
        state = "pending"
        if not outcomes:
            notes.append(
                Reason("meeting.awaited", "The contract pays for held meetings; none yet.")
            )
    else:
        state = "void"
    if verdict == "upheld":
        notes.append(Reason("dispute.upheld", "Ops upheld the decision."))
    return Decision(
        state,
        facts.routed.firm_id,
        amount if state == "credited" else ZERO,
        terms.currency,
        tuple(notes),
        contract.label,
    )
