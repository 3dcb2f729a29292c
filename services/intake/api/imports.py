"""``/v1/imports``: upload a CSV (ops) and follow its import job."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.intake.api.errors import INTAKE_ERRORS
from services.intake.api.lead_counts import count
from services.intake.imports import (
    SHOWN_ERRORS,
    create_job,
    read_job,
    run_import_in_child,
    spool_dir,
)
from services.intake.settings import IntakeSettings
from shared.credentials import ReadCaller, SubmitCaller
from shared.db import SessionFactory
from shared.observability import get_logger
from shared.problems import PROBLEM_JSON, Problem
from shared.service import runtime_of

log = get_logger(__name__)
router = APIRouter(prefix="/v1/imports", tags=["imports"], responses=INTAKE_ERRORS)


class RowError(BaseModel):
    line: int
    field: str
    reason: str


class ImportJob(BaseModel):
    import_id: UUID
    status: Literal["queued", "running", "completed", "failed"]
    source: str
    campaign: str | None
    rows_total: int
    rows_accepted: int
    rows_duplicate: int
    rows_rejected: int
    detail: str | None
    created_at: datetime
    finished_at: datetime | None
    errors: list[RowError]
    errors_truncated: bool


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Import a CSV of leads (registrants, attendees, a vendor list)",
    description="The body is the CSV itself (`text/csv`), with a header row naming at least "
    "an email column (also: name or first/last name, company, title, phone, country, "
    "campaign). Streamed to disk, then imported in batches by a job: follow it at "
    "`GET /v1/imports/{id}` (the Location header).",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    responses={413: {"description": "File too large", "content": {PROBLEM_JSON: {}}}},
)
async def post_import(
    request: Request,
    _caller: SubmitCaller,
    source: str = Query(default="import", pattern=r"^[A-Za-z0-9 ._:-]{1,100}$"),
    campaign: str | None = Query(default=None, max_length=200),
) -> JSONResponse:
    own: IntakeSettings = request.app.state.intake_settings
    job_id = uuid4()
    path = spool_dir(own.import_spool_dir) / f"{job_id}.csv"
    try:
        with path.open("wb") as spooled:
            async for chunk in request.stream():
                spooled.write(chunk)
            size = spooled.tell()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if size == 0:
        path.unlink(missing_ok=True)
        raise Problem(422, "The CSV is empty.", errors=[{"field": "body", "reason": "empty"}])
    runtime = runtime_of(request)
    try:
        await create_job(runtime.sessions, source, campaign, job_id)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    task = asyncio.create_task(
        _counted(
            runtime.sessions,
            job_id,
            run_import_in_child(
                runtime.sessions,
                runtime.settings.database_url or "",
                job_id,
                path,
                runtime.stop,
                window=request.app.state.dedup_window,
                batch_rows=own.import_batch_rows,
            ),
        ),
        name=f"import-{job_id}",
    )
    jobs: set[asyncio.Task[None]] = request.app.state.import_jobs
    jobs.add(task)  # held until done, so the task is not garbage-collected mid-import
    task.add_done_callback(jobs.discard)
    return JSONResponse(
        {"import_id": str(job_id), "status": "queued"},
        status_code=202,
        headers={"Location": f"/v1/imports/{job_id}"},
    )


async def _counted(sessions: SessionFactory, job_id: UUID, job: Awaitable[None]) -> None:
    """Run the import, then count its rows in ``leadflow_intake_leads_total`` (at the end:
    an import's rows show up in the rate when its job finishes)."""
    await job
    try:
        found = await read_job(sessions, job_id)
    except Exception as exc:  # the job itself is recorded; only its count is lost
        log.warning("import_not_counted", import_id=str(job_id), error=repr(exc))
        return
    if found is not None:
        done, _ = found
        count("import", "accepted", done.rows_accepted)
        count("import", "duplicate", done.rows_duplicate)
        count("import", "invalid", done.rows_rejected)


@router.get("/{import_id}", summary="An import job: status, counts and per-row errors")
async def get_import(import_id: UUID, request: Request, _caller: ReadCaller) -> ImportJob:
    found = await read_job(runtime_of(request).sessions, import_id)
    if found is None:
        raise Problem(404, f"No import {import_id}.")
    job, errors = found
    return ImportJob(
        import_id=job.id,
        status=job.status,
        source=job.source,
        campaign=job.campaign,
        rows_total=job.rows_total,
        rows_accepted=job.rows_accepted,
        rows_duplicate=job.rows_duplicate,
        rows_rejected=job.rows_rejected,
        detail=job.detail,
        created_at=job.created_at,
        finished_at=job.finished_at,
        errors=[RowError(line=e.line, field=e.field, reason=e.reason) for e in errors],
        errors_truncated=len(errors) >= SHOWN_ERRORS,
    )
