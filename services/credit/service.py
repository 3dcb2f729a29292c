"""Credit's use case: re-decide a lead from all its facts, and when the decision changes
store a new revision, publish it and book the difference in the ledger — all in the
caller's transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import store
from services.credit.domain.acceptance import return_claim
from services.credit.domain.facts import LeadFacts
from services.credit.domain.policy import ZERO, Decision, decide
from shared.events.credit import CreditDecided, CreditState, Reason
from shared.outbox import Outbox


def latest_fact_time(facts: LeadFacts) -> datetime | None:
    times = [m.occurred_at for m in facts.meetings] + [s.occurred_at for s in facts.statuses]
    times += [d.occurred_at for d in facts.disputes]
    if facts.received is not None:
        times.append(facts.received.received_at)  # a touch bears on a lead only before it
    return max(times) if times else None


def _meetings_in(decision: Decision) -> int:
    return sum(1 for r in decision.reasons if r.rule == "meeting.price")


async def redecide(
    session: AsyncSession, outbox: Outbox, lead_id: UUID, *, review_due: datetime | None = None
) -> CreditDecided | None:
    """The new decision if it changed (published and booked), else None.

    The decision is taken as of the latest fact about the lead (event time), never earlier
    than the lead's previous decision, or as of ``review_due`` (a deadline the sweep saw
    pass): not the wall clock, so replaying the same facts gives the same decisions and
    ledger."""
    # Facts of one lead arrive on several topics and may be applied at the same time by
    # different consumers: under this lock (held to commit) the later transaction reads
    # the earlier one's facts, so two half-views never both decide "not yet".
    await store.lock(session, f"lead:{lead_id}")
    facts = await store.lead_facts(session, lead_id)
    if facts.received is None or facts.routed is None:
        return None  # kept; decided once the lead and its routing are both known
    latest = await store.latest_decision(session, lead_id)
    times = (latest_fact_time(facts), latest.decided_at if latest else None, review_due)
    as_of = max(t for t in times if t is not None)
    routed = facts.routed
    firm = routed.firm_id
    contract = await store.current_contract(session, firm) if firm else None
    if contract is not None:
        touches = await store.touches_bearing_on(session, facts.received, contract.terms)
        facts = replace(facts, touches=touches)
    earlier = await store.meetings_credited(session, firm, f"{as_of:%Y-%m}", lead_id) if firm else 0
    claim = return_claim(facts, contract.terms) if contract else None
    returns_before = 0
    if firm and claim is not None:
        await store.lock_returns(session, firm)
        returns_before = await store.returns_before(session, firm, claim.occurred_at, lead_id)
    decision = decide(
        facts,
        contract,
        as_of=as_of,
        nth_meeting_in_month=earlier + 1,
        returns_before=returns_before,
    )
    await _count_return(
        session,
        lead_id,
        firm,
        decision,
        capped=bool(contract and contract.terms.return_cap_per_month is not None),
    )

    state: CreditState = decision.state
    booked, _ = await store.ledger_total(session, lead_id)
    if booked > ZERO and decision.state in ("void", "not_eligible"):
        state = "reversed"  # it was paid for; the ledger takes it back
    reasons = [Reason(rule=r.rule, sentence=r.sentence) for r in decision.reasons]
    routing_revision = routed.revision
    if latest is not None and (
        latest.state == state
        and latest.amount == decision.amount
        and latest.routing_revision == routing_revision
        and latest.event.get("reasons") == [r.model_dump() for r in reasons]
    ):
        if latest.next_review_at != decision.next_review_at:
            await store.set_next_review(session, lead_id, latest.revision, decision.next_review_at)
        return None
    if latest is not None and latest.next_review_at is not None:
        await store.set_next_review(session, lead_id, latest.revision, None)
    revision = (latest.revision if latest else 0) + 1
    event = CreditDecided(
        lead_id=lead_id,
        revision=revision,
        routing_revision=routing_revision,
        firm_id=decision.firm_id,
        state=state,
        amount=decision.amount,
        currency=decision.currency,
        policy_version=decision.policy_version,
        reasons=reasons,
        decided_at=as_of,
    )
    session.add(
        store.CreditDecisionRow(
            lead_id=lead_id,
            revision=revision,
            routing_revision=routing_revision,
            firm_id=decision.firm_id,
            state=state,
            amount=decision.amount,
            currency=decision.currency,
            policy_version=decision.policy_version,
            contract_version=decision.contract_version,
            decided_at=as_of,
            event=event.model_dump(mode="json"),
            next_review_at=decision.next_review_at,
        )
    )
    await _book(
        session,
        event,
        decision,
        contract_holding_days=(contract.terms.holding_days if contract else 0),
    )
    await outbox.add(session, event)
    return event


async def _count_return(
    session: AsyncSession, lead_id: UUID, firm: str | None, decision: Decision, *, capped: bool
) -> None:
    """Keep the lead's place among the firm's returns of the month; when it moves, the
    later returns' counts change, so their decisions are due for review (the cap)."""
    if decision.return_claimed_at is not None and firm is not None:
        await store.lock_returns(session, firm)
    moved = await store.record_return(session, lead_id, firm, decision.return_claimed_at)
    if moved is not None and firm is not None and capped:
        await store.review_later_returns(session, firm, moved, lead_id)


async def _book(
    session: AsyncSession, event: CreditDecided, decision: Decision, *, contract_holding_days: int
) -> None:
    """The ledger holds the difference: a credit, or a clawback as a negative entry."""
    booked, booked_meetings = await store.ledger_total(session, event.lead_id)
    delta: Decimal = event.amount - booked
    if delta == ZERO:
        return
    firm = event.firm_id or (await store.lead_firm(session, event.lead_id)) or "unknown"
    await store.add_ledger_entry(
        session,
        lead_id=event.lead_id,
        decision_revision=event.revision,
        firm_id=firm,
        kind="credit" if delta > 0 else "clawback",
        amount=delta,
        currency=event.currency,
        meetings=_meetings_in(decision) - booked_meetings,
        period=f"{event.decided_at:%Y-%m}",
        payable_on=(
            decision.payable_on
            if delta > 0 and decision.payable_on
            else (event.decided_at + timedelta(days=contract_holding_days)).date()
        ),
        reason=event.reasons[-1].sentence if event.reasons else event.state,
    )
