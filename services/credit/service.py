"""Credit's use case: re-decide leads from all their facts, a batch at a time, and for each
whose decision changes store a new revision, publish it and book the difference in the
ledger — all in the caller's transaction, in a bounded number of statements per batch.

A decision is taken as of the latest fact about the lead (event time), never earlier than
its previous decision, or as of the deadline the sweep saw pass (``review_due``): not the
wall clock, so replaying the same facts gives the same decisions and ledger.

What several leads of a batch share is read once and carried from one lead to the next as
each is decided, in order: the firm's held meetings credited that month (volume tiers),
the places taken under its monthly caps (returns, inbound credits per account).
"""

from __future__ import annotations

import contextlib
from bisect import bisect_left, insort
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import store
from services.credit.domain.acceptance import return_claim
from services.credit.domain.contract import Contract
from services.credit.domain.disputes import SETTLEMENT_RULES
from services.credit.domain.facts import LeadFacts, Received
from services.credit.domain.policy import ZERO, Decision, claimant, decide, inbound_claim
from services.credit.domain.reviews import decided_before_a_move, fewest_moves
from services.credit.domain.tiers import NO_MEETINGS, Ladder, MeetingPlace, month_of, months_between
from services.credit.store import Cap, LedgerEntry, Place, StoredDecision
from shared.db import driver_connection, lock
from shared.events.credit import CreditDecided, CreditState, Reason
from shared.outbox import Outbox, Outgoing


def latest_fact_time(facts: LeadFacts) -> datetime | None:
    times = [m.occurred_at for m in facts.meetings] + [s.occurred_at for s in facts.statuses]
    times += [d.occurred_at for d in facts.disputes]
    if facts.received is not None:
        times.append(facts.received.received_at)  # a touch bears on a lead only before it
    return max(times) if times else None


def _meetings_in(decision: Decision) -> int:
    return sum(1 for r in decision.reasons if r.rule == "meeting.price")


def _account_of(facts: LeadFacts) -> str:
    """What an inbound cap counts per: the matched account (its domain before routing
    carried the account id)."""
    assert facts.received is not None
    assert facts.routed is not None
    return facts.routed.account_id or facts.received.email_domain


@dataclass
class _Shared:
    """What the batch's leads share, read once, kept current as each is decided."""

    ladders: dict[str, dict[str, list[MeetingPlace]]]  # firm -> month -> credited meetings
    meetings: dict[UUID, tuple[str, tuple[MeetingPlace, ...]]]  # lead -> firm, its places
    places: dict[tuple[Cap, str], list[tuple[datetime, UUID]]]  # (cap, period) -> places
    held: dict[str, dict[UUID, Place]] = field(default_factory=dict)  # kind -> lead -> place

    def ladder_without(self, lead: UUID, firm: str | None) -> Ladder:
        """The firm's credited meetings by month, the lead's own taken out (it is being
        decided again; ``put_meetings`` puts its new places back)."""
        if firm is None:
            return NO_MEETINGS
        was_firm, was = self.meetings.get(lead, (firm, ()))
        for place in was:
            self.ladders[was_firm][month_of(place[0])].remove(place)
        return self.ladders.get(firm, NO_MEETINGS)

    def put_meetings(
        self, lead: UUID, firm: str | None, places: tuple[MeetingPlace, ...]
    ) -> list[tuple[str, datetime, UUID]]:
        """Put the lead's credited meetings back as now decided; for each (firm, month)
        whose ladder changed, the earliest change (the meetings after it moved a place)."""
        if not (places and firm) and lead not in self.meetings:
            return []  # most leads: no credited meeting before or now
        was = {(f, p) for f, ps in [self.meetings.get(lead, ("", ()))] for p in ps}
        now = {(firm, p) for p in places} if firm else set()
        for owner, place in now:
            insort(self.ladders.setdefault(owner, {}).setdefault(month_of(place[0]), []), place)
        if firm and places:
            self.meetings[lead] = (firm, places)
        else:
            self.meetings.pop(lead, None)
        changed: dict[tuple[str, str], datetime] = {}
        for owner, (at, _) in was ^ now:
            key = (owner, month_of(at))
            changed[key] = min(changed.get(key, at), at)
        return [(owner, since, lead) for (owner, _), since in changed.items()]

    def before(self, place: Place | None, lead: UUID) -> int:
        """Places under the cap that month taken before this lead's (time, then lead id):
        a binary search of the month's sorted places, less the lead's own if it is one of
        them."""
        if place is None:
            return 0
        cap, at = place
        places = self.places.get((cap, f"{at:%Y-%m}"), [])
        found = bisect_left(places, (at, lead))
        own = self.held.get(cap.kind, {}).get(lead)
        if own is not None and own[0] == cap and f"{own[1]:%Y-%m}" == f"{at:%Y-%m}":
            found -= (own[1], lead) < (at, lead)
        return found

    def move(self, kind: str, lead: UUID, place: Place | None) -> list[tuple[Cap, datetime, UUID]]:
        """Record the lead's place; the caps whose later places shifted, from when."""
        was = self.held.setdefault(kind, {}).get(lead)
        if was == place:
            return []
        for old in (was,) if was else ():
            key = (old[0], f"{old[1]:%Y-%m}")
            with contextlib.suppress(ValueError):
                self.places.get(key, []).remove((old[1], lead))
        if place is not None:
            insort(self.places.setdefault((place[0], f"{place[1]:%Y-%m}"), []), (place[1], lead))
            self.held[kind][lead] = place
        else:
            self.held[kind].pop(lead, None)
        moved = [(p[0], p[1], lead) for p in (was, place) if p is not None]
        if was is not None and place is not None and was[0] == place[0]:
            return [(place[0], min(was[1], place[1]), lead)]
        return moved


@dataclass(frozen=True)
class LeadToDecide:
    facts: LeadFacts
    firm: str | None
    contract: Contract | None
    latest: StoredDecision | None
    as_of: datetime
    returned: Place | None
    inbound: Place | None


@dataclass
class _Writes:
    decisions: list[StoredDecision] = field(default_factory=list)
    next_reviews: list[tuple[UUID, int, datetime | None]] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    events: list[Outgoing] = field(default_factory=list)
    places: dict[str, dict[UUID, Place | None]] = field(default_factory=dict)
    moved: list[tuple[Cap, datetime, UUID]] = field(default_factory=list)
    meetings: dict[UUID, tuple[str, tuple[MeetingPlace, ...]]] = field(default_factory=dict)
    moved_meetings: list[tuple[str, datetime, UUID]] = field(default_factory=list)
    decided: list[UUID] = field(default_factory=list)  # the batch's leads, in order
    review_now: set[UUID] = field(default_factory=set)  # decided before a move on them


def _cap(
    contract: Contract | None, firm: str | None, kind: str, scope: str, at: datetime | None
) -> Place | None:
    if contract is None or firm is None or at is None:
        return None
    return Cap(kind, firm, scope), at


async def redecide_all(
    session: AsyncSession,
    outbox: Outbox | None,
    leads: Sequence[UUID],
    *,
    review_due: Mapping[UUID, datetime] | None = None,
    traces: Mapping[UUID, Mapping[str, str]] | None = None,
) -> list[CreditDecided]:
    """Re-decide each lead (in order, each once); the new decisions (booked, and published
    through ``outbox``; None: not announced, as in a replay). A lead not yet both received
    and routed is kept and decided once it is."""
    order = list(dict.fromkeys(leads))
    if not order:
        return []
    conn = await driver_connection(session)
    planned = await plan(conn, order, review_due=review_due, traces=traces)
    await _write(conn, session, outbox, planned.writes)
    return planned.decided


@dataclass(frozen=True)
class Planned:
    """What deciding the leads again would do: each lead as prepared (its facts, claimant,
    contract, latest decision), the decisions that would change, and the writes."""

    leads: list[LeadToDecide]
    decided: list[CreditDecided]
    writes: _Writes


async def plan(
    conn: asyncpg.Connection,
    order: Sequence[UUID],
    *,
    review_due: Mapping[UUID, datetime] | None = None,
    traces: Mapping[UUID, Mapping[str, str]] | None = None,
    contracts: Mapping[str, Contract] | None = None,
    locking: bool = True,
) -> Planned:
    """Decide the leads again without writing anything. ``contracts``: terms to decide
    under instead of the firms' current ones (a backtest's draft); ``locking`` False: no
    lead or cap locks (a read-only backtest must never hold a live lead back)."""
    if locking:
        # Facts of one lead arrive on several topics and may be applied at the same time
        # by different consumers: under its lock (held to commit) the later transaction
        # reads the earlier one's facts, so two half-views never both decide "not yet".
        await lock(conn, [store.lead_key(lead) for lead in order])
    all_facts = await store.lead_facts_of(conn, order)
    ready = [
        lead for lead in order if all_facts[lead].received is not None and all_facts[lead].routed
    ]
    if not ready:
        return Planned([], [], _Writes())
    latest = await store.latest_decisions_of(conn, ready)
    firms = {lead: _claimant(all_facts[lead]) for lead in ready}
    found = await store.contracts_of(conn, {f for f in firms.values() if f})
    in_force = {**found, **(contracts or {})}
    receipts = {lead: _received(all_facts[lead]) for lead in ready}
    touches = await store.latest_own_touches(
        conn,
        [
            (lead, receipts[lead], firm, in_force[firm].terms.inbound_lookback_days)
            for lead, firm in firms.items()
            if firm in in_force and receipts[lead].submitted_by_firm is None
        ],
    )
    prepared = [
        _prepare(
            replace(all_facts[lead], touches=(touches[lead],) if lead in touches else ()),
            firms[lead],
            in_force.get(firms[lead] or ""),
            latest.get(lead),
            (review_due or {}).get(lead),
        )
        for lead in ready
    ]
    shared = await _read_shared(conn, prepared, locking=locking)
    writes = _Writes()
    totals = await store.ledger_totals_of(conn, ready)
    decided = []
    for lead in prepared:
        event = _decide(lead, shared, totals, writes, (traces or {}).get(lead.facts.lead_id))
        if event is not None:
            decided.append(event)
    writes.decided = [lead.facts.lead_id for lead in prepared]
    writes.review_now = _decided_before_a_move(shared, writes)
    return Planned(prepared, decided, writes)


def _decided_before_a_move(shared: _Shared, writes: _Writes) -> set[UUID]:
    position = {lead: i for i, lead in enumerate(writes.decided)}
    places = [(lead, cap, at) for held in shared.held.values() for lead, (cap, at) in held.items()]
    meetings = [
        (lead, firm, at) for lead, (firm, held) in shared.meetings.items() for at, _ in held
    ]
    return decided_before_a_move(places, writes.moved, position) | decided_before_a_move(
        meetings, writes.moved_meetings, position, ties=True
    )


def _received(facts: LeadFacts) -> Received:
    assert facts.received is not None
    return facts.received


def _claimant(facts: LeadFacts) -> str | None:
    assert facts.received is not None
    assert facts.routed is not None
    return claimant(facts.received, facts.routed)


def _prepare(
    facts: LeadFacts,
    firm: str | None,
    contract: Contract | None,
    latest: StoredDecision | None,
    review_due: datetime | None,
) -> LeadToDecide:
    times = (latest_fact_time(facts), latest.decided_at if latest else None, review_due)
    as_of = max(t for t in times if t is not None)
    returned = return_claim(facts, contract.terms) if contract else None
    return LeadToDecide(
        facts,
        firm,
        contract,
        latest,
        as_of,
        _cap(contract, firm, "return", "", returned.occurred_at if returned else None),
        _cap(contract, firm, "inbound", _account_of(facts), inbound_claim(facts, contract)),
    )


async def _read_shared(
    conn: asyncpg.Connection, leads: Sequence[LeadToDecide], *, locking: bool = True
) -> _Shared:
    """The batch's shared counts, read once (under the caps' locks, when ``locking``)."""
    ids = [lead.facts.lead_id for lead in leads]
    held = {kind: await store.places_of(conn, kind, ids) for kind in ("return", "inbound")}
    caps = {
        (place[0], f"{place[1]:%Y-%m}")
        for lead in leads
        for place in (lead.returned, lead.inbound)
        if place is not None
    }
    caps |= {(p[0], f"{p[1]:%Y-%m}") for found in held.values() for p in found.values()}
    if locking:  # the caps' locks, then the ladders': one order on every path
        await lock(conn, [cap.key for cap, _ in caps])
    meetings = await store.meeting_places_of(conn, ids)
    months = {(firm, month_of(p[0])) for firm, places in meetings.values() for p in places}
    months |= {key for lead in leads for key in _meeting_months(lead)}
    if locking:
        await lock(conn, [store.ladder_key(firm, month) for firm, month in months])
    ladders = await store.ladders_of(conn, months)
    return _Shared(ladders, meetings, await store.claims_of(conn, caps), held)


def _meeting_months(lead: LeadToDecide) -> set[tuple[str, str]]:
    """The months the lead's meetings can be credited in: from its first meeting fact's
    to its decision's (a meeting earns its credit between the two)."""
    times = [m.occurred_at for m in lead.facts.meetings]
    times += [m.scheduled_for for m in lead.facts.meetings if m.scheduled_for is not None]
    if lead.firm is None or lead.contract is None or not times:
        return set()
    return {(lead.firm, month) for month in months_between(min(times), lead.as_of)}


def _decide(
    lead: LeadToDecide,
    shared: _Shared,
    totals: dict[UUID, tuple[Decimal, int]],
    writes: _Writes,
    trace: Mapping[str, str] | None,
) -> CreditDecided | None:
    facts, firm, contract, latest = lead.facts, lead.firm, lead.contract, lead.latest
    lead_id = facts.lead_id
    assert facts.routed is not None
    decision = decide(
        facts,
        contract,
        as_of=lead.as_of,
        other_meetings=shared.ladder_without(lead_id, firm),
        returns_before=shared.before(lead.returned, lead_id),
        inbound_before=shared.before(lead.inbound, lead_id),
    )
    moved_meetings = shared.put_meetings(lead_id, firm, decision.meetings_credited)
    if moved_meetings:
        writes.meetings[lead_id] = (firm or "", decision.meetings_credited if firm else ())
        writes.moved_meetings += moved_meetings
    returned = _cap(contract, firm, "return", "", decision.return_claimed_at)
    for kind, place, reviewed in (
        ("return", returned, bool(contract and contract.terms.return_cap_per_month is not None)),
        ("inbound", lead.inbound, True),
    ):
        moved = shared.move(kind, lead_id, place)
        if moved:
            writes.places.setdefault(kind, {})[lead_id] = place
            if reviewed:
                writes.moved += moved

    state: CreditState = decision.state
    booked, booked_meetings = totals.get(lead_id, (ZERO, 0))
    was_reversed = latest is not None and latest.state == "reversed"
    if decision.state in ("void", "not_eligible") and (booked > ZERO or was_reversed):
        # It was paid for; the ledger takes it back. Once taken back (nothing booked any
        # more) it stays reversed while the rules still credit nothing: deciding it again
        # never turns it into a "not eligible" with no new fact.
        state = "reversed"
    reasons = [Reason(rule=r.rule, sentence=r.sentence) for r in decision.reasons]
    routing_revision = facts.routed.revision
    if latest is not None and (
        latest.state == state
        and latest.amount == decision.amount
        and latest.routing_revision == routing_revision
        and latest.event.get("reasons") == [r.model_dump() for r in reasons]
    ):
        if latest.next_review_at != decision.next_review_at:
            writes.next_reviews.append((lead_id, latest.revision, decision.next_review_at))
        return None
    if latest is not None and latest.next_review_at is not None:
        writes.next_reviews.append((lead_id, latest.revision, None))
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
        decided_at=lead.as_of,
    )
    writes.decisions.append(
        StoredDecision(
            lead_id=lead_id,
            revision=revision,
            routing_revision=routing_revision,
            firm_id=decision.firm_id,
            state=state,
            amount=decision.amount,
            currency=decision.currency,
            policy_version=decision.policy_version,
            contract_version=decision.contract_version,
            decided_at=lead.as_of,
            event=event.model_dump(mode="json"),
            next_review_at=decision.next_review_at,
        )
    )
    settled_before = {r["rule"] for r in latest.event.get("reasons", [])} if latest else set()
    entry = _entry(
        event,
        decision,
        booked=(booked, booked_meetings),
        holding_days=contract.terms.holding_days if contract else 0,
        settles=bool(SETTLEMENT_RULES & ({r.rule for r in reasons} - settled_before)),
        fallback_firm=latest.firm_id if latest else None,
    )
    if entry is not None:
        writes.ledger.append(entry)
        totals[lead_id] = (booked + entry.amount, booked_meetings + entry.meetings)
    writes.events.append(Outgoing(event, trace))
    return event


def _entry(
    event: CreditDecided,
    decision: Decision,
    *,
    booked: tuple[Decimal, int],
    holding_days: int,
    settles: bool,
    fallback_firm: str | None,
) -> LedgerEntry | None:
    """The ledger holds the difference: a credit, or a clawback as a negative entry. A
    dispute's settlement is always a line (of 0.00 when the amount stands), so both sides
    see on the statement how it ended."""
    delta: Decimal = event.amount - booked[0]
    if delta == ZERO and not settles:
        return None
    settlement = next((r for r in reversed(event.reasons) if r.rule in SETTLEMENT_RULES), None)
    return LedgerEntry(
        lead_id=event.lead_id,
        decision_revision=event.revision,
        firm_id=event.firm_id or fallback_firm or "unknown",
        kind="credit" if delta > 0 else "clawback" if delta < 0 else "settlement",
        amount=delta,
        currency=event.currency,
        meetings=_meetings_in(decision) - booked[1],
        period=f"{event.decided_at:%Y-%m}",
        payable_on=(
            decision.payable_on
            if delta > 0 and decision.payable_on
            else store.payable_after(event.decided_at, holding_days)
        ),
        reason=(settlement or event.reasons[-1]).sentence if event.reasons else event.state,
    )


async def _write(
    conn: asyncpg.Connection, session: AsyncSession, outbox: Outbox | None, writes: _Writes
) -> None:
    for kind, places in writes.places.items():
        await store.write_places(conn, kind, places)
    await store.set_next_reviews(conn, writes.next_reviews)
    await store.add_decisions(conn, writes.decisions)
    # After the new revisions: the places after a moved one are due for review as their
    # current decisions stand: other transactions' leads, and this batch's decided before
    # the move (those decided after it counted it).
    await store.review_later_places(conn, fewest_moves(writes.moved), writes.decided)
    await store.write_meeting_places(conn, writes.meetings)
    await store.review_later_meetings(conn, fewest_moves(writes.moved_meetings), writes.decided)
    await store.review_now(conn, writes.review_now)
    await store.add_ledger_entries(conn, writes.ledger)
    if outbox is not None:
        await outbox.add_all(session, writes.events)


async def redecide(
    session: AsyncSession, outbox: Outbox, lead_id: UUID, *, review_due: datetime | None = None
) -> CreditDecided | None:
    """``redecide_all`` for one lead: its new decision if it changed, else None."""
    decided = await redecide_all(
        session, outbox, [lead_id], review_due={lead_id: review_due} if review_due else None
    )
    return decided[0] if decided else None
