"""Routing backtests as jobs, run away from the live lane.

``POST /v1/routing/backtests`` queues a job (``router.backtests``); the router's job
runner (``shared/jobs.py``) claims queued jobs one at a time and runs each in a child
process at a lower CPU priority (``python -m services.router.backtest_jobs <id>``, this
module), so deciding a million past leads never takes the event loop, or the CPU, from a
live lead. The child reads the window through a cursor, writes its progress after each
chunk, then the result, or why it failed.

The bodies in and out are here because both the API and the child use them.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, cast
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Table

from services.router import store
from services.router.backtest import RoutingBacktest, Side, WorkspaceChanges, backtest_routing
from services.router.domain.model import Territory
from services.router.domain.ruleset import RuleSet
from services.router.tables import BacktestRow
from shared.db import SessionFactory
from shared.events.backtests import MOVES, BacktestFinished, Bar, Move, largest_gaps
from shared.events.envelope import utcnow
from shared.jobs import JobRunner, fail_job, finish_job, job_progress, run_child
from shared.outbox import Outbox

LONGEST_WINDOW = timedelta(days=366)
OUTBOX = Outbox(store.SCHEMA, source="/router")
JOBS = cast("Table", BacktestRow.__table__)  # type: ignore[attr-defined]


class TerritoryIn(BaseModel):
    """The places a territory covers instead, as ``PUT /v1/territories/{id}`` takes them."""

    model_config = ConfigDict(extra="forbid")

    countries: list[str] = Field(default=[], max_length=300)
    regions: list[str] = Field(default=[], max_length=300)
    states: list[str] = Field(default=[], max_length=300)

    @field_validator("countries")
    @classmethod
    def _two_letter_codes(cls, countries: list[str]) -> list[str]:
        for country in countries:
            if len(country) != 2 or not country.isalpha():
                raise ValueError(f"{country!r} is not a two-letter country code")
        return countries


class ChangesIn(BaseModel):
    """What-ifs for the backtest only: owners away the whole window (out of office: round
    robin skips them) or gone (inactive: their accounts' leads fall back to their manager,
    else their team), accounts handed to another owner, territories moved (the places
    each covers instead)."""

    model_config = ConfigDict(extra="forbid")

    owners_away: list[str] = Field(default=[], max_length=1000)
    owners_inactive: list[str] = Field(default=[], max_length=1000)
    account_owners: dict[str, str] = Field(
        default={}, max_length=10_000, description="account id -> the owner it is handed to"
    )
    territories: dict[str, TerritoryIn] = Field(
        default={}, max_length=1000, description="territory id -> the places it covers instead"
    )

    def changes(self) -> WorkspaceChanges:
        return WorkspaceChanges(
            frozenset(self.owners_away),
            frozenset(self.owners_inactive),
            dict(self.account_owners),
            {
                territory_id: Territory(
                    territory_id,
                    territory_id,  # the places only: its name stays
                    tuple(c.upper() for c in moved.countries),
                    tuple(r.upper() for r in moved.regions),
                    tuple(s.upper() for s in moved.states),
                )
                for territory_id, moved in self.territories.items()
            },
        )


class RoutingBacktestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    ruleset_version: str | None = Field(default=None, max_length=100)
    ruleset: dict[str, Any] | None = Field(default=None, description="A draft rule set, inline")
    changes: ChangesIn = Field(default_factory=ChangesIn)
    from_: Annotated[date, Field(alias="from", description="Leads received from this day")]
    to: Annotated[date, Field(description="... to this day, excluded")]

    @model_validator(mode="after")
    def _one_draft_and_a_window(self) -> RoutingBacktestIn:
        if self.ruleset_version is not None and self.ruleset is not None:
            raise ValueError("ruleset_version or ruleset, not both")
        if self.to <= self.from_:
            raise ValueError("to must be after from")
        if self.to - self.from_ > LONGEST_WINDOW:
            raise ValueError("a window of at most 366 days")
        return self


class SideOut(BaseModel):
    owner_id: str | None
    team_id: str | None
    queue: str | None
    rule: str | None
    flags: list[str]
    explanation: str
    trace: list[str]


class SampleOut(BaseModel):
    lead_id: str
    received_at: datetime
    kind: str  # changed, or rotation (the same round robin picked another member)
    before: SideOut
    after: SideOut


class Moved(BaseModel):
    before: str
    after: str
    leads: int


class Load(BaseModel):
    owner_id: str
    day: str
    leads_before: int  # as the router routed them
    leads: int  # as the draft would


class RoutingBacktestOut(BaseModel):
    ruleset: str
    leads: int
    differences: int  # another owner, team, queue, rule or flags
    rotation: int  # the same round robin in the same team, another member
    by_rule: list[Moved]
    by_owner: list[Moved]
    flags_gained: dict[str, int]
    flags_lost: dict[str, int]
    load: list[Load]  # leads per owner per day, before and as the draft would route them
    samples: list[SampleOut]

    @classmethod
    def of(cls, report: RoutingBacktest) -> RoutingBacktestOut:
        days = sorted(set(report.load) | set(report.load_before))
        return cls(
            ruleset=report.ruleset,
            leads=report.leads,
            differences=report.differences,
            rotation=report.rotation,
            by_rule=_moved(report.by_rule),
            by_owner=_moved(report.by_owner),
            flags_gained=dict(report.flags_gained),
            flags_lost=dict(report.flags_lost),
            load=[
                Load(
                    owner_id=owner,
                    day=day,
                    leads_before=report.load_before[(owner, day)],
                    leads=report.load[(owner, day)],
                )
                for owner, day in days
            ],
            samples=[
                SampleOut(
                    lead_id=s.lead_id,
                    received_at=s.received_at,
                    kind=s.kind,
                    before=_side(s.before),
                    after=_side(s.after),
                )
                for s in report.samples
            ],
        )


def _moved(moved: Counter[tuple[str, str]]) -> list[Moved]:
    return [Moved(before=b, after=a, leads=n) for (b, a), n in moved.most_common()]


def _side(side: Side) -> SideOut:
    return SideOut(**{**vars(side), "flags": list(side.flags), "trace": list(side.trace)})


class Progress(BaseModel):
    done: int
    total: int


class BacktestJobOut(BaseModel):
    backtest_id: UUID
    status: str  # queued | running | done | failed
    ruleset_version: str | None  # a stored rule set's (an activation may need it)
    from_: date = Field(serialization_alias="from")
    to: date
    progress: Progress
    ran_by: str
    ran_at: datetime
    finished_at: datetime | None
    error: str | None
    result: RoutingBacktestOut | None


# --- running a job ------------------------------------------------------------------


class JobFailed(Exception):
    """Why a job could not run (said on the job)."""


async def draft_of(sessions: SessionFactory, body: RoutingBacktestIn) -> RuleSet | None:
    """The rule set the job backtests: inline, stored, or None (the active one)."""
    if body.ruleset is not None:
        return RuleSet.model_validate(body.ruleset)
    if body.ruleset_version is None:
        return None
    async with sessions() as session:
        found = await store.ruleset(session, body.ruleset_version)
    if found is None:
        raise JobFailed(f"no rule set {body.ruleset_version}")
    return found


async def run_job(sessions: SessionFactory, job_id: UUID) -> None:
    """Run one claimed job to its end: progress as it goes, then the result or the error."""
    async with sessions() as session:
        row = await store.backtest_of(session, job_id)
    if row is None:
        raise JobFailed(f"no backtest {job_id}")
    body = RoutingBacktestIn.model_validate(row.request)

    async def progress(done: int, total: int) -> None:
        async with sessions() as session, session.begin():
            await job_progress(session, JOBS, job_id, (done, total), utcnow())

    try:
        draft = await draft_of(sessions, body)
        report = await backtest_routing(
            sessions, draft, (body.from_, body.to), changes=body.changes.changes(),
            progress=progress,
        )  # fmt: skip
    except (JobFailed, ValueError) as error:
        async with sessions() as session, session.begin():
            await fail_job(session, JOBS, job_id, str(error), utcnow())
        return
    result = RoutingBacktestOut.of(report)
    async with sessions() as session, session.begin():
        await OUTBOX.add(session, finished_event(job_id, row, report))
        await finish_job(
            session,
            JOBS,
            job_id,
            result.model_dump(mode="json"),
            utcnow(),
            leads=report.leads,
            done=report.leads,
            total=report.leads,
            differences=report.differences,
            rotation=report.rotation,
        )


def finished_event(job_id: UUID, row: BacktestRow, report: RoutingBacktest) -> BacktestFinished:
    """The summary ops shows: each owner's leads before and after (the largest gaps), and
    the leads moved by rule."""
    owners = {owner for owner, _ in report.load} | {owner for owner, _ in report.load_before}
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    for (owner, _), n in report.load_before.items():
        before[owner] += n
    for (owner, _), n in report.load.items():
        after[owner] += n
    return BacktestFinished(
        backtest_id=job_id,
        kind="routing",
        backtested=report.ruleset,
        window_from=row.window_from,
        window_to=row.window_to,
        leads=report.leads,
        differences=report.differences,
        unit="leads",
        bars=largest_gaps(
            [Bar(label=o, before=Decimal(before[o]), after=Decimal(after[o])) for o in owners]
        ),
        moves=[Move(before=b, after=a, leads=n) for (b, a), n in report.by_rule.most_common(MOVES)],
        ran_by=row.ran_by,
        finished_at=utcnow(),
    )


def runner(sessions: SessionFactory, database_url: str) -> JobRunner:
    """The router's runner of backtest jobs (a task of the router process)."""
    return JobRunner(sessions, database_url, JOBS, "services.router.backtest_jobs")


if __name__ == "__main__":
    run_child(run_job)
