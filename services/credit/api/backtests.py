"""``/v1/firms/{firm}/contract/backtests``: what draft terms would have decided for the
firm's past leads, beside what was decided — before anyone signs them (admin scope;
nothing is written, no event is published). Without ``terms``, the current contract: the
reproducibility proof (0 differences, or each one named with its reason).

``POST`` checks the request and queues a job (202, its ``Location``), run in a child
process away from the live lane (``services/credit/backtest_jobs.py``); ``GET /{id}``
says how far it got and, once done, what it found; ``GET`` lists the firm's latest.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Request, Response

from services.credit import store
from services.credit.api.firms import FirmIdPath
from services.credit.backtest_jobs import (
    BacktestJobOut,
    CreditBacktestIn,
    CreditBacktestOut,
    Progress,
)
from services.credit.tables import backtests
from shared.credentials import AdminCaller
from shared.events.envelope import utcnow
from shared.jobs import TooManyJobs, queue_job
from shared.problems import PROBLEM_RESPONSES, Problem
from shared.service import runtime_of

router = APIRouter(prefix="/v1/firms", tags=["backtests"], responses=PROBLEM_RESPONSES)


def _out(job: dict[str, Any], *, with_result: bool = True) -> BacktestJobOut:
    return BacktestJobOut(
        backtest_id=job["id"],
        firm_id=job["firm_id"],
        status=job["status"],
        from_=job["window_from"],
        to=job["window_to"],
        progress=Progress(done=job["done"], total=job["total"]),
        ran_by=job["ran_by"],
        ran_at=job["ran_at"],
        finished_at=job["finished_at"],
        error=job["error"],
        result=(
            CreditBacktestOut.model_validate(job["result"])
            if with_result and job["result"]
            else None
        ),
    )


@router.post(
    "/{firm_id}/contract/backtests",
    summary="Queue a backtest of draft terms (or the current contract) over the firm's leads",
    status_code=202,
    responses={
        422: {"description": "Bad terms or window"},
        429: {"description": "Too many backtests wait or run"},
    },
)
async def post_credit_backtest(
    firm_id: FirmIdPath,
    body: CreditBacktestIn,
    request: Request,
    response: Response,
    caller: AdminCaller,
) -> BacktestJobOut:
    job = {
        "id": uuid4(),
        "firm_id": firm_id,
        "window_from": body.from_,
        "window_to": body.to,
        "status": "queued",
        "request": body.model_dump(mode="json", by_alias=True),
        "total": 0,
        "done": 0,
        "result": None,
        "error": None,
        "ran_by": caller.actor,
        "ran_at": utcnow(),
        "finished_at": None,
    }
    try:
        async with runtime_of(request).sessions() as session, session.begin():
            await queue_job(session, backtests, job)
    except TooManyJobs as error:
        raise Problem(429, str(error), headers={"Retry-After": "30"}) from None
    response.headers["Location"] = f"/v1/firms/{firm_id}/contract/backtests/{job['id']}"
    return _out(job)


@router.get(
    "/{firm_id}/contract/backtests/{backtest_id}",
    summary="A contract backtest: its progress, then its result",
)
async def get_credit_backtest(
    firm_id: FirmIdPath, backtest_id: UUID, request: Request, _caller: AdminCaller
) -> BacktestJobOut:
    async with runtime_of(request).sessions() as session:
        job = await store.backtest_job(session, backtest_id)
    if job is None or job["firm_id"] != firm_id:
        raise Problem(404, f"No backtest {backtest_id} of {firm_id}.")
    return _out(job)


@router.get(
    "/{firm_id}/contract/backtests",
    summary="The firm's latest contract backtests, newest first (without results)",
)
async def list_credit_backtests(
    firm_id: FirmIdPath,
    request: Request,
    _caller: AdminCaller,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[BacktestJobOut]:
    async with runtime_of(request).sessions() as session:
        jobs = await store.backtest_jobs_of(session, firm_id, limit)
    return [_out(job, with_result=False) for job in jobs]
