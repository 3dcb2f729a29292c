"""The dashboard's aggregates and the funnel report (ops token), narrowed by a time range,
an owner and a firm (``domain/filters.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.ops.aggregates import CachedPerKey, Dashboard, funnel_between
from services.ops.domain.filters import BoardFilter, board_filter, windows
from services.ops.domain.funnel import Funnel, funnel_csv
from services.ops.domain.stream_filter import FilterError
from shared.credentials import ReadCaller
from shared.events.envelope import utcnow
from shared.http import csv_download
from shared.problems import PROBLEM_RESPONSES, Problem
from shared.service import runtime_of

router = APIRouter(tags=["reports"], responses=PROBLEM_RESPONSES)


@contextmanager
def refused_as_422() -> Iterator[None]:
    """A ``FilterError`` becomes a 422 problem naming its field."""
    try:
        yield
    except FilterError as bad:
        raise Problem(
            422, f"{bad.field}: {bad.reason}", errors=[{"field": bad.field, "reason": bad.reason}]
        ) from bad


From = Annotated[
    str | None,
    Query(
        alias="from",
        description="Start (inclusive): a date (that UTC day's start) or a timestamp with an "
        "offset",
    ),
]
To = Annotated[
    str | None,
    Query(description="End (exclusive): a date (that UTC day's start) or a timestamp"),
]
Owner = Annotated[
    str | None,
    Query(
        description="Only this owner's leads: routing decisions and SLA events naming the "
        "owner, other events of leads routed to the owner",
    ),
]
Firm = Annotated[str | None, Query(description="Only this outside firm's leads")]


@router.get(
    "/v1/dashboard",
    summary="Every dashboard panel at once",
    description="Lead flow per channel per minute (last hour); routing outcomes per rule "
    "and owner, SLA reminders/breaches/reassignments per owner (last 24 hours); credit "
    "decisions and amounts per firm and the funnel (last 30 days); consumer lag per "
    "service. With `from` and/or `to` every panel shows that range (at most 366 days; the "
    "flow per minute up to 3 hours, per hour up to 3 days, else per UTC day); `owner` and "
    "`firm` narrow every panel. `windows` gives each panel's range, `empty` why an empty "
    "panel is empty. Reused for a few seconds per filter (`OPS_DASHBOARD_CACHE_S`).",
)
async def dashboard(
    request: Request,
    _caller: ReadCaller,
    *,
    from_: From = None,
    to: To = None,
    owner: Owner = None,
    firm: Firm = None,
) -> Dashboard:
    with refused_as_422():
        board = board_filter(from_, to, owner, firm)
        windows(board, utcnow())  # an open end before an open start: refused here
    cached: CachedPerKey[BoardFilter, Dashboard] = request.app.state.dashboard
    return await cached.get(board)


@router.get(
    "/v1/reports/funnel",
    summary="The funnel per channel and campaign (JSON or CSV)",
    description="Leads received in [from, to) (dates are UTC days; `to` a date includes "
    "that day's start only, so give the next day), and of them how many were accepted, "
    "had a meeting held, were credited (latest decision) and won, with the credited "
    "amount and each step's share of received. Default: the last 30 days. `owner` and "
    "`firm` narrow it as on the dashboard.",
    response_model=Funnel,
    responses={200: {"content": {"text/csv": {}}}},
)
async def funnel_report(
    request: Request,
    _caller: ReadCaller,
    *,
    from_: From = None,
    to: To = None,
    owner: Owner = None,
    firm: Firm = None,
    format_: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response | Funnel:
    with refused_as_422():
        board = board_filter(from_, to, owner, firm)
        span = windows(board, utcnow()).funnel
    result = await funnel_between(runtime_of(request).sessions, span.start, span.end, board.scope)
    if format_ == "csv":
        name = f"funnel-{span.start.date().isoformat()}-{span.end.date().isoformat()}.csv"
        return csv_download(funnel_csv(result), name)
    return result
