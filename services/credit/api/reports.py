"""Referral reports (sticking point 9, docs/design.md): the daily referral report and the
weekly summary of one firm, for ops (any firm) and for the firm itself through its partner
key (its own only). Thin: parse the day, load the firm's leads, call the pure builder."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.credit import report_queries
from services.credit.api.firms import FirmIdPath
from services.credit.domain.report import Report, build_report, report_csv, week_of
from shared.credentials import PartnerCaller, ReadCaller
from shared.http import csv_download
from shared.problems import PROBLEM_RESPONSES, Problem
from shared.service import runtime_of
from shared.times import EARLIEST, LATEST, OUT_OF_RANGE

ops_router = APIRouter(prefix="/v1/firms", tags=["reports"], responses=PROBLEM_RESPONSES)
partner_router = APIRouter(prefix="/v1/partner", tags=["partner"], responses=PROBLEM_RESPONSES)
Kind = Literal["daily", "weekly"]
Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv")]
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _day(value: str) -> date:
    try:
        if not DAY.match(value):
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise Problem(
            422, "day: YYYY-MM-DD", errors=[{"field": "day", "reason": "a date, YYYY-MM-DD"}]
        ) from None
    if not EARLIEST.date() <= day <= LATEST.date():  # a week past either still fits
        raise Problem(
            422, f"day: {OUT_OF_RANGE}", errors=[{"field": "day", "reason": OUT_OF_RANGE}]
        )
    return day


async def _report(request: Request, firm_id: str, kind: Kind, day: str, fmt: str) -> Response:
    start = _day(day)
    days = 1
    if kind == "weekly":
        start, days = week_of(start), 7
    since = datetime.combine(start, time(), tzinfo=UTC)
    until = since + timedelta(days=days)
    async with runtime_of(request).sessions() as session:
        leads = await report_queries.firm_leads(session, firm_id, since, until)
        touches = await report_queries.firm_touches(session, firm_id, since, until)
    report = build_report(firm_id, leads, start, days, touches)
    if fmt == "csv":
        filename = f"{firm_id}-{kind}-{start.isoformat()}.csv"
        return csv_download(report_csv(report), filename)
    return Response(report.model_dump_json(), media_type="application/json")


REPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "model": Report,
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "The report as JSON, or as CSV with `format=csv`",
    }
}


@ops_router.get(
    "/{firm_id}/reports/{kind}/{day}",
    summary="A firm's daily referral report or weekly summary (the week holding the day)",
    responses=REPORT_RESPONSES,
)
async def ops_report(
    firm_id: FirmIdPath,
    kind: Kind,
    day: str,
    request: Request,
    _caller: ReadCaller,
    format: Format = "json",
) -> Response:
    return await _report(request, firm_id, kind, day, format)


@partner_router.get(
    "/reports/{kind}/{day}",
    summary="The firm's own daily referral report or weekly summary",
    responses=REPORT_RESPONSES,
)
async def partner_report(
    kind: Kind, day: str, request: Request, partner: PartnerCaller, format: Format = "json"
) -> Response:
    return await _report(request, partner.firm_id, kind, day, format)
