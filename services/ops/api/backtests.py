"""``GET /v1/backtests``: the backtests that finished, newest first, in summary — what
the dashboard's backtest view draws (each owner's leads, or each month's amount, before
and after; the leads moved by rule or by state). Ops staff only: a draft is the
company's, so partner keys never see these (nor their topic on the stream). The whole
result of one is the service's: ``GET /v1/routing/backtests/{id}`` on the router,
``GET /v1/firms/{firm}/contract/backtests/{id}`` on credit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.ops import store
from shared.credentials import ReadCaller
from shared.events.backtests import BacktestFinished
from shared.problems import PROBLEM_RESPONSES
from shared.service import runtime_of

router = APIRouter(prefix="/v1/backtests", tags=["backtests"], responses=PROBLEM_RESPONSES)


@router.get("", summary="Backtests that finished, newest first, in summary")
async def list_backtests(
    request: Request,
    _caller: ReadCaller,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[BacktestFinished]:
    async with runtime_of(request).sessions() as session:
        found = await store.latest_of_type(session, BacktestFinished.event_type, limit)
    return [BacktestFinished.model_validate(data) for data in found]
