"""CSV imports (webinar registrants or attendees, vendor lists) as jobs: the upload is
spooled to disk as it streams in, then parsed and registered in batches (one transaction
each), so a 100,000-row file neither blocks the server nor fills memory. Good rows go in;
each bad row is reported with its line number, field and reason.

A job runs in a child process of the intake that took the upload (``python -m
services.intake.imports <job> <file>``, at a lower CPU priority: ``shared.jobs``), so
its parsing, normalizing and event building take neither intake's event loop nor the CPU
from live leads. If the service stops mid-import the child is stopped, the batches
committed so far stay (nothing half-written) and the job stays ``running``; re-import
the file: rows already in are repeats (``duplicate``), not new leads. A child left
behind by a killed intake finishes its import.
"""

from __future__ import annotations

import asyncio
import csv
import io
import sys
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO, Any
from uuid import UUID, uuid4

import asyncpg
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError

from services.intake.bulk import Item, submit_many
from services.intake.domain.csv_rows import BadHeader, RowResult, columns_of, parse_row
from services.intake.domain.normalize import FieldError
from services.intake.tables import SCHEMA, import_errors, imports
from shared.db import SessionFactory
from shared.events.envelope import utcnow
from shared.jobs import run_child, run_child_process
from shared.observability import get_logger
from shared.outbox import Outbox

log = get_logger(__name__)

MAX_STORED_ERRORS = 10_000
SHOWN_ERRORS = 1_000


def spool_dir(configured: str | None) -> Path:
    """Where uploads wait for their import's process (made if missing)."""
    folder = Path(configured or Path(tempfile.gettempdir()) / "leadflow-imports")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def create_job(
    sessions: SessionFactory, source: str, campaign: str | None, job_id: UUID | None = None
) -> UUID:
    job_id = job_id or uuid4()
    async with sessions() as session, session.begin():
        await session.execute(
            insert(imports).values(id=job_id, status="queued", source=source, campaign=campaign)
        )
    return job_id


async def read_job(sessions: SessionFactory, job_id: UUID) -> tuple[Any, list[Any]] | None:
    async with sessions() as session:
        job = (await session.execute(select(imports).where(imports.c.id == job_id))).first()
        if job is None:
            return None
        errors = (
            await session.execute(
                select(import_errors.c.line, import_errors.c.field, import_errors.c.reason)
                .where(import_errors.c.import_id == job_id)
                .order_by(import_errors.c.line, import_errors.c.field)
                .limit(SHOWN_ERRORS)
            )
        ).all()
    return job, list(errors)


def _batches(
    stream: IO[bytes], source: str, campaign: str | None, size: int
) -> Iterator[list[RowResult]]:
    """Rows of the file, parsed and normalized, ``size`` at a time (runs in a thread).
    Bytes that are not UTF-8 are kept as lone surrogates, so that only their row is
    refused (``errors="replace"`` let them in as U+FFFD; ``strict`` failed the job)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        raise BadHeader("the file is empty")
    columns = columns_of(header)
    batch: list[RowResult] = []
    ended = reader.line_num
    for row in reader:
        # A record starts on the line after the previous one ended (a quoted field may
        # span lines; ``line_num`` is where the record ends).
        start, ended = ended + 1, reader.line_num
        batch.append(parse_row(columns, row, start, source, campaign, width=len(header)))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _finish(sessions: SessionFactory, job_id: UUID, status: str, detail: str | None) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(imports)
            .where(imports.c.id == job_id)
            .values(status=status, detail=detail, finished_at=utcnow())
        )


_REFUSED = (DBAPIError, asyncpg.PostgresError)


def _refused_value(error: Exception) -> bool:
    """SQLSTATE class 22, a data exception: one of the values, not the database, is bad."""
    found = getattr(error, "orig", None) or error
    return str(getattr(found, "sqlstate", None) or "").startswith("22")


def _why(error: Exception) -> str:
    found = getattr(error, "orig", None) or error
    return str(getattr(found, "__cause__", None) or found)


async def _store_batch(
    sessions: SessionFactory,
    outbox: Outbox,
    job_id: UUID,
    rows: list[RowResult],
    *,
    window: timedelta,
    errors_stored: int,
) -> int:
    """Store a batch in one transaction; should the database refuse a value the row
    checks let through, store it again row by row, so that only that row is refused
    (by its line) and the others go in, as the account import does."""
    try:
        return await _store_rows(
            sessions, outbox, job_id, rows, window=window, errors_stored=errors_stored
        )
    except _REFUSED as error:
        if not _refused_value(error):
            raise
        log.warning("import_batch_refused", import_id=str(job_id), error=_why(error))
    stored = 0
    for row in rows:
        try:
            stored += await _store_rows(
                sessions, outbox, job_id, [row], window=window, errors_stored=errors_stored + stored
            )
        except _REFUSED as error:
            if not _refused_value(error):
                raise
            reason = f"refused by the database: {_why(error)}"
            refused = RowResult(row.line, None, (FieldError("row", reason),), {})
            stored += await _store_rows(
                sessions,
                outbox,
                job_id,
                [refused],
                window=window,
                errors_stored=errors_stored + stored,
            )
    return stored


async def _store_rows(
    sessions: SessionFactory,
    outbox: Outbox,
    job_id: UUID,
    rows: list[RowResult],
    *,
    window: timedelta,
    errors_stored: int,
) -> int:
    """One transaction: the good rows registered, the bad ones recorded, the counts moved."""
    bad = [
        {"import_id": job_id, "line": row.line, "field": e.field, "reason": e.reason}
        for row in rows
        if row.lead is None
        for e in row.errors
    ]
    good = [Item(row.lead, row.raw) for row in rows if row.lead is not None]
    async with sessions() as session, session.begin():
        registered = await submit_many(session, outbox, good, channel="import", window=window)
        duplicate = sum(r.duplicate for r in registered)
        accepted = len(registered) - duplicate
        room = max(0, MAX_STORED_ERRORS - errors_stored)
        if bad[:room]:
            await session.execute(insert(import_errors).values(bad[:room]).on_conflict_do_nothing())
        rejected = sum(row.lead is None for row in rows)
        await session.execute(
            update(imports)
            .where(imports.c.id == job_id)
            .values(
                status="running",
                rows_total=imports.c.rows_total + len(rows),
                rows_accepted=imports.c.rows_accepted + accepted,
                rows_duplicate=imports.c.rows_duplicate + duplicate,
                rows_rejected=imports.c.rows_rejected + rejected,
            )
        )
    return len(bad[:room])


async def run_import(
    sessions: SessionFactory,
    outbox: Outbox,
    job_id: UUID,
    spooled: IO[bytes],
    *,
    source: str,
    campaign: str | None,
    window: timedelta,
    batch_rows: int = 500,
) -> None:
    """Process a spooled upload to the end; the job says how it went."""
    stored = 0
    try:
        spooled.seek(0)
        batches = _batches(spooled, source, campaign, batch_rows)
        while True:
            # Parsing and normalizing (CPU) off the event loop; the database work on it.
            rows = await asyncio.to_thread(next, batches, None)
            if rows is None:
                break
            stored += await _store_batch(
                sessions, outbox, job_id, rows, window=window, errors_stored=stored
            )
    except BadHeader as exc:
        async with sessions() as session, session.begin():
            await session.execute(
                insert(import_errors).values(
                    import_id=job_id, line=1, field="header", reason=str(exc)
                )
            )
        await _finish(sessions, job_id, "failed", str(exc))
    except csv.Error as exc:
        await _finish(sessions, job_id, "failed", f"unreadable CSV: {exc}")
    except Exception as exc:  # logged and recorded on the job, never lost silently
        log.exception("import_failed", import_id=str(job_id))
        await _finish(sessions, job_id, "failed", f"stopped: {type(exc).__name__}")
    else:
        await _finish(sessions, job_id, "completed", None)
    finally:
        spooled.close()


async def run_import_in_child(
    sessions: SessionFactory,
    database_url: str,
    job_id: UUID,
    path: Path,
    stop: asyncio.Event,
    *,
    window: timedelta,
    batch_rows: int,
) -> None:
    """Run the job in its child process to the end (or until ``stop``: the child is
    stopped, the job stays ``running``); a child that dies fails its job, saying why."""
    args = [str(job_id), str(path), str(batch_rows), str(window.total_seconds())]
    try:
        ended = await run_child_process(__name__, args, {"DATABASE_URL": database_url}, stop)
        if ended is not None and ended.returncode != 0:
            log.error("import_child_failed", import_id=str(job_id), said=ended.said)
            async with sessions() as session, session.begin():
                await session.execute(
                    update(imports)
                    .where(imports.c.id == job_id, imports.c.status.in_(("queued", "running")))
                    .values(
                        status="failed",
                        detail=f"stopped: {ended.said[:300]}",
                        finished_at=utcnow(),
                    )
                )
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)  # an import does not resume


async def _import_here(sessions: SessionFactory, job_id: UUID) -> None:
    """The child's work (its arguments: the job, its file, rows per batch, the dedup
    window in seconds): the file, as the job's row says to import it."""
    path, batch_rows, window_s = Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    async with sessions() as session:
        job = (await session.execute(select(imports).where(imports.c.id == job_id))).one()
    await run_import(
        sessions,
        Outbox(SCHEMA, source="/intake"),
        job_id,
        await asyncio.to_thread(path.open, "rb"),
        source=job.source,
        campaign=job.campaign,
        window=timedelta(seconds=window_s),
        batch_rows=batch_rows,
    )
    await asyncio.to_thread(path.unlink, missing_ok=True)


if __name__ == "__main__":
    run_child(_import_here)
