"""``POST /v1/firms/{firm}/contract/backtests``: what draft terms would have decided for
the firm's past leads, beside what was decided — before anyone signs them (admin scope;
nothing is written, no event is published). Without ``terms``, the current contract: the
reproducibility proof (0 differences, or each one named with its reason).

Answered here, in the credit process, so bounded: a window of more than ``MOST_LEADS``
of the firm's leads is a 422 (``leadflow backtest credit`` takes any window, with a
progress bar). Routing's backtests are jobs run in a child process; credit's are not yet.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.credit import store
from services.credit.api.firms import FirmIdPath
from services.credit.backtest import Side, StatementLine, backtest_credit
from services.credit.domain.contract import Terms
from shared.credentials import AdminCaller
from shared.problems import PROBLEM_RESPONSES, Problem
from shared.service import runtime_of

router = APIRouter(prefix="/v1/firms", tags=["backtests"], responses=PROBLEM_RESPONSES)
LONGEST_WINDOW = timedelta(days=366)
CHANGES_SHOWN = 500
MOST_LEADS = 20_000


class CreditBacktestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    terms: Terms | None = Field(
        default=None, description="The draft terms; none: the firm's current contract."
    )
    from_: Annotated[date, Field(alias="from", description="Leads received from this day")]
    to: Annotated[date, Field(description="... to this day, excluded")]

    @model_validator(mode="after")
    def _a_window(self) -> CreditBacktestIn:
        if self.to <= self.from_:
            raise ValueError("to must be after from")
        if self.to - self.from_ > LONGEST_WINDOW:
            raise ValueError("a window of at most 366 days")
        return self


class SideOut(BaseModel):
    state: str
    amount: Decimal
    reasons: list[str]


class ChangeOut(BaseModel):
    lead_id: UUID
    month: str
    before: SideOut | None
    after: SideOut
    why: str


class StatementLineOut(BaseModel):
    what: str  # "credited 350.00 each"
    before: int  # leads
    after: int
    amount_before: Decimal
    amount_after: Decimal


class MonthOut(BaseModel):
    month: str
    leads: int
    credited_before: int
    amount_before: Decimal
    credited_after: int
    amount_after: Decimal
    statement: list[StatementLineOut]  # the month's statement, before and as it would be


def _line(line: StatementLine) -> StatementLineOut:
    return StatementLineOut(
        what=line.what,
        before=line.before,
        after=line.after,
        amount_before=line.amount_before,
        amount_after=line.amount_after,
    )


class CreditBacktestOut(BaseModel):
    firm_id: str
    terms: str  # "draft", or the current contract's label (firm/vN)
    leads: int
    differences: int
    currency: str
    months: list[MonthOut]
    changes: list[ChangeOut]  # the first 500, in the order the leads came in


def _side(side: Side) -> SideOut:
    return SideOut(state=side.state, amount=side.amount, reasons=list(side.reasons))


@router.post(
    "/{firm_id}/contract/backtests",
    summary="Backtest draft terms (or the current contract) over the firm's past leads",
    responses={422: {"description": "Bad terms or window, or too many leads in it"}},
)
async def post_credit_backtest(
    firm_id: FirmIdPath, body: CreditBacktestIn, request: Request, _caller: AdminCaller
) -> CreditBacktestOut:
    sessions = runtime_of(request).sessions
    window = (body.from_, body.to)
    async with sessions() as session:
        leads = await store.firm_leads_in(session, firm_id, window)
    if leads > MOST_LEADS:
        reason = (
            f"the window holds {leads:,} of {firm_id}'s leads, more than {MOST_LEADS:,}: narrow "
            "it, or run `leadflow backtest credit`"
        )
        raise Problem(422, reason, errors=[{"field": "from", "reason": reason}])
    report = await backtest_credit(sessions, firm_id, body.terms, window)
    return CreditBacktestOut(
        firm_id=report.firm_id,
        terms=report.terms,
        leads=report.leads,
        differences=report.differences,
        currency=report.currency,
        months=[
            MonthOut(
                month=m.month,
                leads=m.leads,
                credited_before=m.credited_before,
                amount_before=m.amount_before,
                credited_after=m.credited_after,
                amount_after=m.amount_after,
                statement=[_line(line) for line in m.statement],
            )
            for m in report.months
        ],
        changes=[
            ChangeOut(
                lead_id=c.lead_id,
                month=c.month,
                before=_side(c.before) if c.before else None,
                after=_side(c.after),
                why=c.why,
            )
            for c in report.changes[:CHANGES_SHOWN]
        ],
    )
