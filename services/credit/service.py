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
from services.credit.domain.contract import Contract
from services.credit.domain.disputes import SETTLEMENT_RULES
from services.credit.domain.facts import LeadFacts
from services.credit.domain.policy import ZERO, Decision, claimant, decide, inbound_claim
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
    firm = claimant(facts.received, routed)
    contract = await store.current_contract(session, firm) if firm else None
    if contract is not None and firm is not None:
        touches = await store.touches_bearing_on(session, facts.received, firm, contract.terms)
        facts = replace(facts, touches=touches)
    earlier = await store.meetings_credited(session, firm, f"{as_of:%Y-%m}", lead_id) if firm else 0
    returned = return_claim(facts, contract.terms) if contract else None
    returns = _cap(contract, firm, "return", "", returned.occurred_at if returned else None)
    inbound = _cap(contract, firm, "inbound", _account_of(facts), inbound_claim(facts, contract))
    decision = decide(
        facts,
        contract,
        as_of=as_of,
        nth_meeting_in_month=earlier + 1,
        returns_before=await _places_before(session, returns, lead_id),
        inbound_before=await _places_before(session, inbound, lead_id),
    )
    returns = _cap(contract, firm, "return", "", decision.return_claimed_at)
    await _keep_place(session, "return", lead_id, returns, reviewed=_return_capped(contract))
    await _keep_place(session, "inbound", lead_id, inbound, reviewed=True)

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
    settled_before = {r["rule"] for r in latest.event.get("reasons", [])} if latest else set()
    await _book(
        session,
        event,
        decision,
        contract_holding_days=(contract.terms.holding_days if contract else 0),
        settles=bool(SETTLEMENT_RULES & ({r.rule for r in reasons} - settled_before)),
    )
    await outbox.add(session, event)
    return event


def _account_of(facts: LeadFacts) -> str:
    """What an inbound cap counts per: the matched account (its domain before routing
    carried the account id)."""
    assert facts.received is not None
    assert facts.routed is not None
    return facts.routed.account_id or facts.received.email_domain


def _return_capped(contract: Contract | None) -> bool:
    return bool(contract and contract.terms.return_cap_per_month is not None)


def _cap(
    contract: Contract | None, firm: str | None, kind: str, scope: str, at: datetime | None
) -> tuple[store.Cap, datetime] | None:
    if contract is None or firm is None or at is None:
        return None
    return store.Cap(kind, firm, scope), at


async def _places_before(
    session: AsyncSession, place: tuple[store.Cap, datetime] | None, lead_id: UUID
) -> int:
    """How many of the cap's places came before this lead's (0 when it takes none)."""
    if place is None:
        return 0
    await store.lock_claims(session, place[0])
    return await store.claims_before(session, place[0], place[1], lead_id)


async def _keep_place(
    session: AsyncSession,
    kind: str,
    lead_id: UUID,
    place: tuple[store.Cap, datetime] | None,
    *,
    reviewed: bool,
) -> None:
    """Keep the lead's place under a cap; when it moves, the later places' counts change,
    so their decisions are due for review (``reviewed``: only where a cap applies)."""
    for cap, since in await store.record_claim(session, kind, lead_id, place):
        if reviewed:
            await store.lock_claims(session, cap)
            await store.review_later_claims(session, cap, since, lead_id)


async def _book(
    session: AsyncSession,
    event: CreditDecided,
    decision: Decision,
    *,
    contract_holding_days: int,
    settles: bool,
) -> None:
    """The ledger holds the difference: a credit, or a clawback as a negative entry. A
    dispute's settlement is always a line (of 0.00 when the amount stands), so both sides
    see on the statement how it ended."""
    booked, booked_meetings = await store.ledger_total(session, event.lead_id)
    delta: Decimal = event.amount - booked
    if delta == ZERO and not settles:
        return
    settlement = next((r for r in reversed(event.reasons) if r.rule in SETTLEMENT_RULES), None)
    kind = "credit" if delta > 0 else "clawback" if delta < 0 else "settlement"
    firm = event.firm_id or (await store.lead_firm(session, event.lead_id)) or "unknown"
    await store.add_ledger_entry(
        session,
        lead_id=event.lead_id,
        decision_revision=event.revision,
        firm_id=firm,
        kind=kind,
        amount=delta,
        currency=event.currency,
        meetings=_meetings_in(decision) - booked_meetings,
        period=f"{event.decided_at:%Y-%m}",
        payable_on=(
            decision.payable_on
            if delta > 0 and decision.payable_on
            else (event.decided_at + timedelta(days=contract_holding_days)).date()
        ),
        reason=(settlement or event.reasons[-1]).sentence if event.reasons else event.state,
    )
