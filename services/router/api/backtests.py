"""``/v1/routing/backtests``: what a draft rule set (and draft workspace changes) would
have done to past leads, beside what the router did (admin scope; nothing live changes,
no event is published). ``POST`` checks the request and queues a job (202, its
``Location``); ``GET /{id}`` says how far it got and, once done, what it found; ``GET``
lists the latest. The draft is a stored rule set (``ruleset_version``: upload it
inactive first, ``POST /v1/rulesets``) or given inline (``ruleset``, as JSON); neither:
the active one, the reproducibility proof. See ``services/router/backtest_jobs.py``."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError

from services.router import settled, store
from services.router.api.rulesets import ruleset_problem
from services.router.backtest import UnknownInChanges
from services.router.backtest_jobs import (
    JOBS,
    BacktestJobOut,
    JobFailed,
    Progress,
    RoutingBacktestIn,
    RoutingBacktestOut,
    draft_of,
)
from services.router.tables import BacktestRow
from shared.credentials import AdminCaller
from shared.events.envelope import utcnow
from shared.jobs import TooManyJobs, queue_job
from shared.problems import PROBLEM_RESPONSES, Problem
from shared.service import runtime_of

router = APIRouter(prefix="/v1/routing", tags=["backtests"], responses=PROBLEM_RESPONSES)


def _out(row: BacktestRow) -> BacktestJobOut:
    return BacktestJobOut(
        backtest_id=row.id,
        status=row.status,
        ruleset_version=row.ruleset_version,
        from_=row.window_from,
        to=row.window_to,
        progress=Progress(done=row.done, total=row.total),
        ran_by=row.ran_by,
        ran_at=row.ran_at,
        finished_at=row.finished_at,
        error=row.error,
        result=RoutingBacktestOut.model_validate(row.result) if row.result else None,
    )


@router.post(
    "/backtests",
    summary="Queue a backtest of a draft rule set (or the active one) over past leads",
    status_code=202,
    responses={
        404: {"description": "No such stored rule set"},
        429: {"description": "Too many backtests wait or run"},
    },
)
async def post_routing_backtest(
    body: RoutingBacktestIn, request: Request, response: Response, caller: AdminCaller
) -> BacktestJobOut:
    runtime = runtime_of(request)
    try:
        await draft_of(runtime.sessions, body)
    except ValidationError as error:
        raise ruleset_problem(error) from None
    except JobFailed as error:
        raise Problem(404, f"No rule set {body.ruleset_version}.") from error
    async with runtime.sessions() as session:
        counts = await settled.counts(session)
        space = await settled.settled(session, counts.version)
    changes = body.changes.changes()
    try:
        changes.owners(space.owners)
        changes.moved_territories(space.territories)
    except UnknownInChanges as error:
        raise Problem(
            422, str(error), errors=[{"field": error.field, "reason": error.reason}]
        ) from None
    row = BacktestRow(
        id=uuid4(),
        ruleset_version=body.ruleset_version,
        window_from=body.from_,
        window_to=body.to,
        request=body.model_dump(mode="json", by_alias=True),
        ran_by=caller.actor,
        ran_at=utcnow(),
    )
    try:
        async with runtime.sessions() as session, session.begin():
            await queue_job(session, JOBS, row.model_dump())
    except TooManyJobs as error:
        raise Problem(429, str(error), headers={"Retry-After": "30"}) from None
    response.headers["Location"] = f"/v1/routing/backtests/{row.id}"
    return _out(row)


@router.get("/backtests/{backtest_id}", summary="A backtest: its progress, then its result")
async def get_routing_backtest(
    backtest_id: UUID, request: Request, _caller: AdminCaller
) -> BacktestJobOut:
    async with runtime_of(request).sessions() as session:
        row = await store.backtest_of(session, backtest_id)
    if row is None:
        raise Problem(404, f"No backtest {backtest_id}.")
    return _out(row)


@router.get("/backtests", summary="The latest backtests, newest first (without results)")
async def list_routing_backtests(
    request: Request,
    _caller: AdminCaller,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[BacktestJobOut]:
    async with runtime_of(request).sessions() as session:
        rows = await store.backtests(session, limit)
    return [_out(row).model_copy(update={"result": None}) for row in rows]
