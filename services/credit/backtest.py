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

The window is read in one read-only transaction, ``CHUNK`` leads at a time (bounded
memory whatever the window holds; ``progress`` told after each). What a lead shares with
the firm's other leads — a volume tier's rank, a cap's places — is counted from their
places as they stand, carried from lead to lead within a chunk: a draft that changes
*which* meetings or returns count (not only what they pay) ranks the others as they were.
The per-lead changes listed stop at ``CHANGES_KEPT`` (all are counted).

Each month's *statement as it would have been*: the credited leads grouped by what each
is paid, before and after (``StatementLine``), with the month's totals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from uuid import UUID

from services.credit import service, store
from services.credit.domain.contract import Contract, Terms
from services.credit.service import latest_fact_time
from shared.db import SessionFactory, driver_connection

CHUNK = 2_000  # leads read and decided at a time
CHANGES_KEPT = 1_000
ZERO = Decimal("0.00")
CREDITED = ("credited",)

Progress = Callable[[int, int], Awaitable[None]]
"""Told (leads done, leads in the window) after each chunk."""


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
class StatementLine:
    """The month's leads credited at one amount each, before and after."""

    what: str  # "credited 350.00 each"
    amount: Decimal
    before: int = 0
    after: int = 0

    @property
    def amount_before(self) -> Decimal:
        return self.amount * self.before

    @property
    def amount_after(self) -> Decimal:
        return self.amount * self.after


@dataclass
class Month:
    month: str
    leads: int = 0
    credited_before: int = 0
    amount_before: Decimal = ZERO
    credited_after: int = 0
    amount_after: Decimal = ZERO
    lines: dict[Decimal, StatementLine] = field(default_factory=dict)

    @property
    def statement(self) -> list[StatementLine]:
        return [self.lines[amount] for amount in sorted(self.lines, reverse=True)]

    def count(self, before: Side | None, after: Side) -> None:
        self.leads += 1
        for side, is_after in ((before, False), (after, True)):
            if side is None or side.state not in CREDITED:
                continue
            line = self.lines.setdefault(
                side.amount, StatementLine(f"credited {side.amount} each", side.amount)
            )
            if is_after:
                self.credited_after += 1
                self.amount_after += side.amount
                line.after += 1
            else:
                self.credited_before += 1
                self.amount_before += side.amount
                line.before += 1


@dataclass
class CreditBacktest:
    firm_id: str
    terms: str  # "draft", or the current contract's label
    window: tuple[date, date]
    leads: int = 0
    currency: str = "USD"
    months: list[Month] = field(default_factory=list)
    differences: int = 0
    changes: list[LeadChange] = field(default_factory=list)  # the first CHANGES_KEPT


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
    progress: Progress | None = None,
    chunk: int = CHUNK,
) -> CreditBacktest:
    """Decide the firm's leads received in ``window`` (from, to: to excluded) again under
    ``terms`` (None: its current contract) and compare with their decisions."""
    start = datetime.combine(window[0], time(), tzinfo=UTC)
    end = datetime.combine(window[1], time(), tzinfo=UTC)
    months: dict[str, Month] = {}
    async with sessions() as session, session.begin():
        conn = await driver_connection(session)
        await conn.execute("SET TRANSACTION READ ONLY")  # a write here would be a bug: refused
        current = (await store.contracts_of(conn, [firm_id])).get(firm_id)
        draft = Contract(firm_id=firm_id, version=0, terms=terms) if terms else None
        report = CreditBacktest(
            firm_id,
            "draft" if draft else (current.label if current else "no contract"),
            window,
            currency=(terms or (current.terms if current else Terms())).currency,
        )
        total = await store.firm_leads_count(conn, firm_id, start, end)
        after: tuple[datetime, UUID] | None = None
        while received := await store.firm_leads_received(
            conn, firm_id, start, end, limit=chunk, after=after
        ):
            after = received[-1][1], received[-1][0]
            planned = await service.plan(
                conn,
                [lead for lead, _ in received],
                contracts={firm_id: draft} if draft else None,
                locking=False,
            )
            _compare(report, months, received, planned, draft is not None)
            if progress is not None:
                await progress(report.leads, max(total, report.leads))
    report.months = [months[m] for m in sorted(months)]
    return report


def _compare(
    report: CreditBacktest,
    months: dict[str, Month],
    received: Sequence[tuple[UUID, datetime]],
    planned: service.Planned,
    draft: bool,
) -> None:
    came_in = {lead: f"{at:%Y-%m}" for lead, at in received}
    after_of = {event.lead_id: event for event in planned.decided}
    for lead in planned.leads:
        lead_id = lead.facts.lead_id
        month = months.setdefault(came_in[lead_id], Month(came_in[lead_id]))
        latest = lead.latest
        before = (
            _side(latest.state, latest.amount, latest.event.get("reasons", [])) if latest else None
        )
        event = after_of.get(lead_id)
        after = _side(event.state, event.amount, event.reasons) if event else before
        assert after is not None  # a lead without a decision always gets one
        month.count(before, after)
        report.leads += 1
        if event is not None:
            report.differences += 1
            if len(report.changes) < CHANGES_KEPT:
                report.changes.append(
                    LeadChange(lead_id, month.month, before, after, _why(lead, draft))
                )


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
