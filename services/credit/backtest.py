"""A credit backtest: what a firm's draft terms would have decided for its past leads,
beside what was decided, before anyone signs them. Nothing is written and no lock is
taken: the leads are decided again by the service's own code (``service.plan``), in a
read-only transaction, under the draft instead of the firm's current contract.

Each lead is decided as of the moment its decision in force was taken (its newest fact,
or the review that last decided it), under the draft as under the contract, so the two
compare like for like: a lead still in its acceptance window then is pending under both.

Without a draft it is the reproducibility proof: the current contract over any window
decides every lead as it stands (0 differences), and a lead that does not is named with
the reason (its decision is older than its facts: a fact not decided yet; else the rules
answer otherwise from the same facts as they stand now: a count shared with the firm's
other leads moved — a volume tier's rank, a cap's places — or the code changed).

First slice (issue 18, point 2): one transaction for the whole window, bounded by
``MAX_LEADS``; the caps and volume tiers of the window's months are counted from the
decisions as they stand for the leads before the window's first in the same month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from uuid import UUID

from services.credit import service, store
from services.credit.domain.contract import Contract, Terms
from services.credit.service import latest_fact_time
from shared.db import SessionFactory, driver_connection

MAX_LEADS = 20_000
ZERO = Decimal("0.00")
CREDITED = ("credited",)


class TooManyLeads(ValueError):
    """The window holds more leads than one backtest takes (a 422 naming the window)."""


@dataclass(frozen=True)
class Side:
    state: str
    amount: Decimal
    reasons: tuple[str, ...]  # the sentences, in order


@dataclass(frozen=True)
class LeadChange:
    lead_id: UUID
    month: str  # when the lead came in, YYYY-MM
    before: Side | None  # None: no decision yet
    after: Side
    why: str


@dataclass
class Month:
    month: str
    leads: int = 0
    credited_before: int = 0
    amount_before: Decimal = ZERO
    credited_after: int = 0
    amount_after: Decimal = ZERO


@dataclass
class CreditBacktest:
    firm_id: str
    terms: str  # "draft", or the current contract's label
    window: tuple[date, date]
    leads: int = 0
    currency: str = "USD"
    months: list[Month] = field(default_factory=list)
    changes: list[LeadChange] = field(default_factory=list)

    @property
    def differences(self) -> int:
        return len(self.changes)


def _side(state: str, amount: Decimal, reasons: Sequence[object]) -> Side:
    sentences = tuple(
        str(r["sentence"]) if isinstance(r, dict) else str(getattr(r, "sentence", r))
        for r in reasons
    )
    return Side(state, Decimal(amount).quantize(ZERO), sentences)


async def backtest_credit(
    sessions: SessionFactory,
    firm_id: str,
    terms: Terms | None,
    window: tuple[date, date],
    *,
    max_leads: int = MAX_LEADS,
) -> CreditBacktest:
    """Decide the firm's leads received in ``window`` (from, to: to excluded) again under
    ``terms`` (None: its current contract) and compare with their decisions."""
    start = datetime.combine(window[0], time(), tzinfo=UTC)
    end = datetime.combine(window[1], time(), tzinfo=UTC)
    async with sessions() as session, session.begin():
        conn = await driver_connection(session)
        await conn.execute("SET TRANSACTION READ ONLY")  # a write here would be a bug: refused
        received = await store.firm_leads_received(conn, firm_id, start, end, max_leads + 1)
        if len(received) > max_leads:
            raise TooManyLeads(
                f"the window holds more than {max_leads:,} of {firm_id}'s leads: narrow it"
            )
        current = (await store.contracts_of(conn, [firm_id])).get(firm_id)
        draft = Contract(firm_id=firm_id, version=0, terms=terms) if terms else None
        planned = await service.plan(
            conn,
            [lead for lead, _ in received],
            contracts={firm_id: draft} if draft else None,
            locking=False,
        )
    report = CreditBacktest(
        firm_id,
        "draft" if draft else (current.label if current else "no contract"),
        window,
        leads=len(received),
        currency=(terms or (current.terms if current else Terms())).currency,
    )
    came_in = {lead: f"{at:%Y-%m}" for lead, at in received}
    after_of = {event.lead_id: event for event in planned.decided}
    months: dict[str, Month] = {}
    for lead in planned.leads:
        lead_id = lead.facts.lead_id
        month = months.setdefault(came_in[lead_id], Month(came_in[lead_id]))
        month.leads += 1
        latest = lead.latest
        before = (
            _side(latest.state, latest.amount, latest.event.get("reasons", [])) if latest else None
        )
        event = after_of.get(lead_id)
        after = _side(event.state, event.amount, event.reasons) if event else before
        assert after is not None  # a lead without a decision always gets one
        if before is not None and before.state in CREDITED:
            month.credited_before += 1
            month.amount_before += before.amount
        if after.state in CREDITED:
            month.credited_after += 1
            month.amount_after += after.amount
        if event is not None:
            report.changes.append(
                LeadChange(lead_id, month.month, before, after, _why(lead, draft is not None))
            )
    report.months = [months[m] for m in sorted(months)]
    return report


def _why(lead: service.LeadToDecide, draft: bool) -> str:
    if draft:
        return "the draft terms decide it otherwise"
    latest = lead.latest
    if latest is None:
        return "no decision yet: its facts have not all been decided"
    newest = latest_fact_time(lead.facts)
    if newest is not None and newest > latest.decided_at:
        return (
            f"its decision ({latest.decided_at:%Y-%m-%d %H:%M}) is older than its newest fact "
            f"({newest:%Y-%m-%d %H:%M}): not decided yet"
        )
    return (
        "the rules answer otherwise from the same facts as they stand now: a count it shares "
        "with the firm's other leads changed since (a volume tier's rank, a cap's places), "
        "or the code did"
    )
