"""Intake per channel: the CSV import rate (a 100,000-row file) against raw asyncpg COPY of
the same rows, and the partner API (single leads and batches of 500) against a bare
uvicorn endpoint — ceilings measured in the same run. ``python -m bench.intake_channels``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from bench.ceilings import bare_uvicorn_rate, drive
from shared.db import asyncpg_dsn
from tests.support.infra import start_infra
from tests.support.stack import Stack, run_stack

COLUMNS = ["email", "name", "company", "title", "phone", "country"]


def csv_rows(n: int, run: int) -> list[list[str]]:
    return [
        [
            f"csv{run}x{i}@example{i % 97}.com",
            f"Person {i}",
            "Import Co",
            "Manager",
            "+1 415 555 0100",
            "US",
        ]
        for i in range(n)
    ]


async def import_rate(
    intake: str, auth: Mapping[str, str], rows: list[list[str]], *, campaign: str | None = None
) -> float:
    """Rows/s of a CSV import through intake's API (at ``intake``, its base URL), from the
    upload to the job's completion; every row must be accepted."""
    body = ",".join(COLUMNS) + "\n" + "\n".join(",".join(r) for r in rows) + "\n"
    params = {"source": "bench"} | ({"campaign": campaign} if campaign else {})
    async with httpx.AsyncClient(timeout=120, headers=dict(auth)) as client:
        started = time.perf_counter()
        job = await client.post(
            f"{intake}/v1/imports",
            params=params,
            content=body.encode(),
            headers={"content-type": "text/csv"},
        )
        job.raise_for_status()
        url = f"{intake}/v1/imports/{job.json()['import_id']}"
        while True:
            state = (await client.get(url)).json()
            if state["status"] in ("completed", "failed"):
                break
            await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - started
    if state["status"] != "completed" or state["rows_accepted"] != len(rows):
        raise RuntimeError(f"import ended {state['status']}: {state}")
    return len(rows) / elapsed


async def copy_rate(database_url: str, rows: list[list[str]]) -> float:
    """The ceiling: COPY of the same rows into a table shaped like intake's leads."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS public.bench_copy (LIKE intake.leads INCLUDING DEFAULTS)"
        )
        await conn.execute("TRUNCATE public.bench_copy")
        now = datetime.now(UTC)
        records = [
            (
                uuid.uuid4(),
                now,
                "import",
                "bench",
                None,
                r[0],
                r[0].split("@")[1],
                False,
                r[1],
                r[2],
                r[3],
                "+14155550100",
                "US",
                "{}",
            )
            for r in rows
        ]
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "bench_copy",
            schema_name="public",
            records=records,
            columns=[
                "id",
                "received_at",
                "channel",
                "source",
                "campaign",
                "email",
                "email_domain",
                "free_mail",
                "name",
                "company",
                "title",
                "phone",
                "country",
                "raw",
            ],
        )
        return len(rows) / (time.perf_counter() - started)
    finally:
        await conn.execute("DROP TABLE IF EXISTS public.bench_copy")
        await conn.close()


async def partner_rates(stack: Stack, n: int, concurrency: int, run: int) -> tuple[float, float]:
    """(single leads accepted per second, batch rows per second)."""
    intake = stack.urls["intake"]
    async with httpx.AsyncClient(timeout=60, headers=stack.auth) as client:
        firm = f"bench-{run}-{uuid.uuid4().hex[:6]}"
        await client.post(f"{intake}/v1/firms", json={"firm_id": firm, "name": firm})
        token = (await client.post(f"{intake}/v1/firms/{firm}/keys")).json()["token"]
    partner = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, headers=partner, limits=limits) as client:

        async def one(i: int) -> None:
            lead = {"email": f"p{run}x{i}@partner{i % 50}.com", "company": "Partner Co"}
            while True:  # the per-key rate limit answers 429: wait as told, as a client should
                answer = await client.post(f"{intake}/v1/partner/leads", json=lead)
                if answer.status_code != 429:
                    answer.raise_for_status()
                    return
                await asyncio.sleep(float(answer.headers.get("retry-after", "1")))

        single = await drive(n, concurrency, one)
        batch = [{"email": f"b{run}x{i}@batch{i % 50}.com", "company": "B"} for i in range(500)]
        started = time.perf_counter()
        (await client.post(f"{intake}/v1/partner/leads", json={"leads": batch})).raise_for_status()
        batch_rate = len(batch) / (time.perf_counter() - started)
    return single, batch_rate


def main() -> None:
    parser = argparse.ArgumentParser(description="Intake channels benchmark")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--leads", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-") as tmp:
        work = Path(tmp)
        (work / "logs").mkdir()
        with start_infra(work) as infra, run_stack(infra, work / "logs") as stack:
            for run in range(args.runs):
                rows = csv_rows(args.rows, run)
                single, batch = asyncio.run(partner_rates(stack, args.leads, args.concurrency, run))
                payloads = [{"email": f"x{i}@y.com"} for i in range(args.leads)]
                results.append(
                    {
                        "import rows/s": asyncio.run(
                            import_rate(stack.urls["intake"], stack.auth, rows)
                        ),
                        "ceiling: COPY rows/s": asyncio.run(copy_rate(infra.database_url, rows)),
                        "partner single leads/s": single,
                        "partner batch-of-500 rows/s": batch,
                        "ceiling: bare uvicorn req/s": asyncio.run(
                            bare_uvicorn_rate(payloads, args.concurrency)
                        ),
                    }
                )
    for r in results:
        r["import / COPY"] = r["import rows/s"] / r["ceiling: COPY rows/s"]
        r["partner single / bare uvicorn"] = (
            r["partner single leads/s"] / r["ceiling: bare uvicorn req/s"]
        )
    print(f"{args.rows} CSV rows, {args.leads} partner leads ({args.concurrency} clients) per run")
    print("\n| metric | " + " | ".join(f"run {i + 1}" for i in range(len(results))) + " | median |")
    print("|" + "---|" * (len(results) + 2))
    for metric in results[0]:
        values = [r[metric] for r in results]
        fmt = "{:.2f}" if metric.count("/") == 1 and " / " in metric else "{:.0f}"
        cells = " | ".join(fmt.format(v) for v in values)
        print(f"| {metric} | {cells} | {fmt.format(statistics.median(values))} |")


if __name__ == "__main__":
    main()
