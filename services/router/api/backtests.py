"""``POST /v1/routing/backtests``: what a draft rule set would have done to past leads,
beside what the router did (admin scope; nothing is written, no event is published). The
draft is a stored rule set (``ruleset_version``: upload it inactive first, ``POST
/v1/rulesets``) or given inline (``ruleset``, the rule set as JSON); neither: the active
one, the reproducibility proof."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from services.router import store
from services.router.api.rulesets import ruleset_problem
from services.router.backtest import (
    Side,
    TooManyLeads,
    UnknownInChanges,
    WorkspaceChanges,
    backtest_routing,
)
from services.router.domain.ruleset import RuleSet
from services.router.tables import BacktestRow
from shared.credentials import AdminCaller
from shared.events.envelope import utcnow
from shared.problems import PROBLEM_RESPONSES, Problem
from shared.service import runtime_of

router = APIRouter(prefix="/v1/routing", tags=["backtests"], responses=PROBLEM_RESPONSES)
LONGEST_WINDOW = timedelta(days=366)


class ChangesIn(BaseModel):
    """What-ifs for the backtest only: owners away the whole window (out of office: round
    robin skips them) or gone (inactive: their accounts' leads fall back to their manager,
    else their team), accounts handed to another owner."""

    model_config = ConfigDict(extra="forbid")

    owners_away: list[str] = Field(default=[], max_length=1000)
    owners_inactive: list[str] = Field(default=[], max_length=1000)
    account_owners: dict[str, str] = Field(
        default={}, max_length=10_000, description="account id -> the owner it is handed to"
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
    leads: int


class RoutingBacktestOut(BaseModel):
    backtest_id: UUID | None  # a stored rule set's backtest is kept (an activation may need it)
    ruleset: str
    leads: int
    differences: int  # another owner, team, queue, rule or flags
    rotation: int  # the same round robin in the same team, another member
    by_rule: list[Moved]
    by_owner: list[Moved]
    flags_gained: dict[str, int]
    flags_lost: dict[str, int]
    load: list[Load]  # leads per owner per day, as the draft would route them
    samples: list[SampleOut]


def _side(side: Side) -> SideOut:
    return SideOut(**{**vars(side), "flags": list(side.flags), "trace": list(side.trace)})


@router.post(
    "/backtests",
    summary="Backtest a draft rule set (or the active one) over past leads",
    responses={404: {"description": "No such stored rule set"}},
)
async def post_routing_backtest(
    body: RoutingBacktestIn, request: Request, caller: AdminCaller
) -> RoutingBacktestOut:
    runtime = runtime_of(request)
    draft: RuleSet | None = None
    if body.ruleset is not None:
        try:
            draft = RuleSet.model_validate(body.ruleset)
        except ValidationError as error:
            raise ruleset_problem(error) from None
    elif body.ruleset_version is not None:
        async with runtime.sessions() as session:
            draft = await store.ruleset(session, body.ruleset_version)
        if draft is None:
            raise Problem(404, f"No rule set {body.ruleset_version}.")
    changes = WorkspaceChanges(
        frozenset(body.changes.owners_away),
        frozenset(body.changes.owners_inactive),
        dict(body.changes.account_owners),
    )
    try:
        report = await backtest_routing(
            runtime.sessions, draft, (body.from_, body.to), changes=changes
        )
    except TooManyLeads as error:
        raise Problem(422, str(error), errors=[{"field": "from", "reason": str(error)}]) from None
    except UnknownInChanges as error:
        raise Problem(
            422, str(error), errors=[{"field": error.field, "reason": error.reason}]
        ) from None
    backtest_id = None
    if body.ruleset_version is not None:  # a stored rule set: kept for its activation
        backtest_id = uuid4()
        async with runtime.sessions() as session, session.begin():
            await store.record_backtest(
                session,
                BacktestRow(
                    id=backtest_id,
                    ruleset_version=report.ruleset,
                    window_from=body.from_,
                    window_to=body.to,
                    leads=report.leads,
                    differences=report.differences,
                    rotation=report.rotation,
                    ran_by=caller.actor,
                    ran_at=utcnow(),
                ),
            )
    return RoutingBacktestOut(
        backtest_id=backtest_id,
        ruleset=report.ruleset,
        leads=report.leads,
        differences=report.differences,
        rotation=report.rotation,
        by_rule=[Moved(before=b, after=a, leads=n) for (b, a), n in report.by_rule.most_common()],
        by_owner=[Moved(before=b, after=a, leads=n) for (b, a), n in report.by_owner.most_common()],
        flags_gained=dict(report.flags_gained),
        flags_lost=dict(report.flags_lost),
        load=[Load(owner_id=o, day=d, leads=n) for (o, d), n in sorted(report.load.items())],
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
