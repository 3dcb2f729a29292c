"""Contract backtests as jobs, run away from the live lane.

``POST /v1/firms/{firm}/contract/backtests`` queues a job (``credit.backtests``); the
credit service's job runner (``shared/jobs.py``) claims queued jobs one at a time and
runs each in a child process at a lower CPU priority (``python -m
services.credit.backtest_jobs <id>``, this module), so deciding a firm's past leads again
takes neither the credit service's event loop nor the CPU from a live fact. The child
reads the window in chunks, writes its progress after each, then the result, or why it
failed.

The bodies in and out are here because both the API and the child use them.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.credit import store
from services.credit.backtest import CreditBacktest, Side, StatementLine, backtest_credit
from services.credit.domain.contract import Terms
from services.credit.tables import backtests
from shared.db import SessionFactory
from shared.events.backtests import BARS, MOVES, BacktestFinished, Bar, Move
from shared.events.envelope import utcnow
from shared.jobs import JobRunner, fail_job, finish_job, job_progress, run_child
from shared.outbox import Outbox

LONGEST_WINDOW = timedelta(days=366)
OUTBOX = Outbox(store.SCHEMA, source="/credit")
CHANGES_SHOWN = 500


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


class CreditBacktestOut(BaseModel):
    firm_id: str
    terms: str  # "draft", or the current contract's label (firm/vN)
    leads: int
    differences: int
    currency: str
    months: list[MonthOut]
    changes: list[ChangeOut]  # the first 500, in the order the leads came in

    @classmethod
    def of(cls, report: CreditBacktest) -> CreditBacktestOut:
        return cls(
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


def _side(side: Side) -> SideOut:
    return SideOut(state=side.state, amount=side.amount, reasons=list(side.reasons))


def _line(line: StatementLine) -> StatementLineOut:
    return StatementLineOut(
        what=line.what,
        before=line.before,
        after=line.after,
        amount_before=line.amount_before,
        amount_after=line.amount_after,
    )


class Progress(BaseModel):
    done: int
    total: int


class BacktestJobOut(BaseModel):
    backtest_id: UUID
    firm_id: str
    status: str  # queued | running | done | failed
    from_: date = Field(serialization_alias="from")
    to: date
    progress: Progress
    ran_by: str
    ran_at: datetime
    finished_at: datetime | None
    error: str | None
    result: CreditBacktestOut | None


async def run_job(sessions: SessionFactory, job_id: UUID) -> None:
    """Run one claimed job to its end: progress as it goes, then the result."""
    async with sessions() as session:
        job = await store.backtest_job(session, job_id)
    if job is None:
        raise LookupError(f"no backtest {job_id}")
    body = CreditBacktestIn.model_validate(job["request"])

    async def progress(done: int, total: int) -> None:
        async with sessions() as session, session.begin():
            await job_progress(session, backtests, job_id, (done, total), utcnow())

    try:
        report = await backtest_credit(
            sessions, job["firm_id"], body.terms, (body.from_, body.to), progress=progress
        )
    except ValueError as error:
        async with sessions() as session, session.begin():
            await fail_job(session, backtests, job_id, str(error), utcnow())
        return
    async with sessions() as session, session.begin():
        await OUTBOX.add(session, finished_event(job_id, job, report))
        await finish_job(
            session,
            backtests,
            job_id,
            CreditBacktestOut.of(report).model_dump(mode="json"),
            utcnow(),
            done=report.leads,
            total=report.leads,
        )


def finished_event(job_id: UUID, job: dict[str, Any], report: CreditBacktest) -> BacktestFinished:
    """The summary ops shows: each month's amount before and after, and the leads whose
    decision moved, by state and amount."""
    moved: Counter[tuple[str, str]] = Counter(
        (
            f"{c.before.state} {c.before.amount}" if c.before else "none",
            f"{c.after.state} {c.after.amount}",
        )
        for c in report.changes
    )
    return BacktestFinished(
        backtest_id=job_id,
        kind="credit",
        backtested=report.terms,
        firm=report.firm_id,
        window_from=job["window_from"],
        window_to=job["window_to"],
        leads=report.leads,
        differences=report.differences,
        unit=report.currency,
        bars=[
            Bar(label=m.month, before=m.amount_before, after=m.amount_after)
            for m in report.months[-BARS:]
        ],
        moves=[Move(before=b, after=a, leads=n) for (b, a), n in moved.most_common(MOVES)],
        ran_by=job["ran_by"],
        finished_at=utcnow(),
    )


def runner(sessions: SessionFactory, database_url: str) -> JobRunner:
    """Credit's runner of backtest jobs (a task of the credit process)."""
    return JobRunner(sessions, database_url, backtests, "services.credit.backtest_jobs")


if __name__ == "__main__":
    run_child(run_job)
