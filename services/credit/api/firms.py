"""Ops endpoints for firms: contracts (versioned terms) and monthly statements."""

from __future__ import annotations

import csv
import io
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from services.credit import report_queries, store
from services.credit.domain.contract import Contract, Terms
from shared import audit
from shared.credentials import AdminCaller, ReadCaller
from shared.events.envelope import utcnow
from shared.events.firms import ContractChanged
from shared.http import csv_download
from shared.problems import PROBLEM_RESPONSES, Problem
from shared.service import runtime_of

router = APIRouter(prefix="/v1/firms", tags=["firms"], responses=PROBLEM_RESPONSES)

FIRM_ID = r"^[a-z0-9][a-z0-9_-]{0,99}$"
# A firm named in a read: any id the services may have given it, and nothing that breaks
# the query (NUL) or the CSV's Content-Disposition header (quotes, non-Latin-1).
FirmIdPath = Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9._:@-]{1,100}$")]
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class Statement(BaseModel):
    firm_id: str
    period: str
    currency: str | None
    total: str
    credited: str
    clawed_back: str
    lines: list[dict[str, Any]]


@router.put("/{firm_id}/contract", summary="Set the firm's terms (a new contract version)")
async def put_contract(
    firm_id: str, terms: Terms, request: Request, caller: AdminCaller
) -> Contract:
    if not re.match(FIRM_ID, firm_id):
        raise Problem(
            422,
            "firm_id: lowercase letters, digits, dashes and underscores",
            errors=[
                {"field": "firm_id", "reason": "lowercase letters, digits, dashes and underscores"}
            ],
        )
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        before = await store.current_contract(session, firm_id)
        contract = await store.add_contract(session, firm_id, terms)
        await runtime.outbox.add(
            session,
            ContractChanged(
                firm_id=firm_id,
                version=contract.version,
                reporting_window_days=terms.reporting_window_days,
                changed_at=utcnow(),
            ),
        )
        await audit.record(
            session,
            caller,
            service=runtime.name,
            action="contract.put",
            entity_type="firm",
            entity_id=firm_id,
            before=before,
            after=contract,
        )
    return contract


@router.get("/{firm_id}/contract", summary="The firm's current contract")
async def get_contract(firm_id: FirmIdPath, request: Request, _caller: ReadCaller) -> Contract:
    async with runtime_of(request).sessions() as session:
        contract = await store.current_contract(session, firm_id)
    if contract is None:
        raise Problem(404, f"No contract for firm {firm_id}.")
    return contract


async def build_statement(request: Request, firm_id: str, period: str) -> Statement:
    if not PERIOD.match(period):
        raise Problem(422, "period: YYYY-MM", errors=[{"field": "period", "reason": "YYYY-MM"}])
    async with runtime_of(request).sessions() as session:
        lines = await report_queries.statement_lines(session, firm_id, period)
    credited = sum((line["amount"] for line in lines if line["amount"] > 0), start=0)
    clawed = sum((line["amount"] for line in lines if line["amount"] < 0), start=0)
    for line in lines:
        line["lead_id"] = str(line["lead_id"])
        line["amount"] = str(line["amount"])
        line["payable_on"] = line["payable_on"].isoformat()
        line["created_at"] = line["created_at"].isoformat()
    return Statement(
        firm_id=firm_id,
        period=period,
        currency=lines[0]["currency"] if lines else None,
        total=f"{credited + clawed:.2f}",
        credited=f"{credited:.2f}",
        clawed_back=f"{clawed:.2f}",
        lines=lines,
    )


def as_csv(statement: Statement) -> Response:
    out = io.StringIO()
    columns = [
        "lead_id",
        "decision_revision",
        "kind",
        "amount",
        "currency",
        "meetings",
        "payable_on",
        "reason",
    ]
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(statement.lines)
    writer.writerow({"lead_id": "TOTAL", "amount": statement.total, "currency": statement.currency})
    filename = f"{statement.firm_id}-{statement.period}.csv"
    return csv_download(out.getvalue(), filename)


@router.get("/{firm_id}/statements/{period}", summary="The firm's statement for a month")
async def get_statement(
    firm_id: FirmIdPath,
    period: str,
    request: Request,
    _caller: ReadCaller,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    statement = await build_statement(request, firm_id, period)
    if format == "csv":
        return as_csv(statement)
    return Response(statement.model_dump_json(), media_type="application/json")
