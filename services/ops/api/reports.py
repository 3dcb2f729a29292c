"""The dashboard's aggregates and the funnel report (ops token)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.ops.aggregates import Cached, Dashboard, funnel_between
from services.ops.domain.funnel import Funnel, funnel_csv
from shared.credentials import ReadCaller
from shared.events.envelope import utcnow
from shared.http import csv_download
from shared.problems import PROBLEM_RESPONSES, Problem
from shared.service import runtime_of
from shared.times import OUT_OF_RANGE, in_range

router = APIRouter(tags=["reports"], responses=PROBLEM_RESPONSES)

MAX_SPAN = timedelta(days=366)


@router.get(
    "/v1/dashboard",
    summary="Every dashboard panel at once",
    description="Lead flow per channel per minute (last hour); routing outcomes per rule "
    "and owner, SLA reminders/breaches/reassignments per owner (last 24 hours); credit "
    "decisions and amounts per firm and the funnel (last 30 days); consumer lag per "
    "service. Reused for a few seconds (`OPS_DASHBOARD_CACHE_S`).",
)
async def dashboard(request: Request, _caller: ReadCaller) -> Dashboard:
    cached: Cached[Dashboard] = request.app.state.dashboard
    return await cached.get()


def _bound(value: str | None, field: str, default: datetime) -> datetime:
    """A date (the day's start, UTC) or a timestamp with an offset, inside
    ``shared.times``' range so the span arithmetic and the database never overflow."""
    if value is None or value == "":
        return default
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Problem(
            422,
            f"{field}: a date (YYYY-MM-DD) or a timestamp with an offset is expected",
            errors=[{"field": field, "reason": "not a date or timestamp"}],
        ) from None
    if len(value) == 10:
        parsed = datetime.combine(parsed.date(), time(), tzinfo=UTC)
    if parsed.tzinfo is None:
        raise Problem(
            422,
            f"{field}: a timestamp needs an offset (Z or +hh:mm)",
            errors=[{"field": field, "reason": "timestamp without an offset"}],
        )
    try:
        return in_range(parsed)
    except ValueError:
        raise Problem(
            422, f"{field}: {OUT_OF_RANGE}", errors=[{"field": field, "reason": OUT_OF_RANGE}]
        ) from None


@router.get(
    "/v1/reports/funnel",
    summary="The funnel per channel and campaign (JSON or CSV)",
    description="Leads received in [from, to) (dates are UTC days; `to` a date includes "
    "that day's start only, so give the next day), and of them how many were accepted, "
    "had a meeting held, were credited (latest decision) and won, with the credited "
    "amount and each step's share of received. Default: the last 30 days.",
    response_model=Funnel,
    responses={200: {"content": {"text/csv": {}}}},
)
async def funnel_report(
    request: Request,
    _caller: ReadCaller,
    from_: Annotated[str | None, Query(alias="from", description="Start (inclusive)")] = None,
    to: Annotated[str | None, Query(description="End (exclusive)")] = None,
    format_: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response | Funnel:
    now = utcnow()
    end = _bound(to, "to", now + timedelta(minutes=1))
    start = _bound(from_, "from", end - timedelta(days=30))
    if start >= end:
        raise Problem(
            422, "from must be before to", errors=[{"field": "from", "reason": "after to"}]
        )
    if end - start > MAX_SPAN:
        raise Problem(
            422, "at most 366 days at once", errors=[{"field": "from", "reason": "span too long"}]
        )
    result = await funnel_between(runtime_of(request).sessions, start, end)
    if format_ == "csv":
        name = f"funnel-{start.date().isoformat()}-{end.date().isoformat()}.csv"
        return csv_download(funnel_csv(result), name)
    return result
