"""The machine's ceilings, measured in the same run as Leadflow's figures: a bare uvicorn
JSON endpoint doing no work, and raw asyncpg inserts of the same rows."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import httpx

from shared.db import asyncpg_dsn
from shared.embedded import free_port, wait_for_port

BARE_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    body = b'{"lead_id":"00000000-0000-0000-0000-000000000000"}'
    await send({"type": "http.response.start", "status": 202,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
"""


async def drive(n: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Run ``one(i)`` for i in range(n) with ``concurrency`` workers; returns per second."""
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - started)


async def bare_uvicorn_rate(payloads: list[dict[str, str]], concurrency: int) -> float:
    port = free_port()
    server = subprocess.Popen(  # noqa: ASYNC220 - started before the clock runs
        [
            sys.executable,
            "-c",
            BARE_APP + f"\nimport uvicorn\nuvicorn.run(app, port={port}, log_level='warning')",
        ],
    )
    try:
        wait_for_port(port, 30, server)
        url = f"http://127.0.0.1:{port}/v1/leads"
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:

            async def one(i: int) -> None:
                (await client.post(url, json=payloads[i])).raise_for_status()

            return await drive(len(payloads), concurrency, one)
    finally:
        server.terminate()
        server.wait(10)


async def raw_insert_rate(
    database_url: str, payloads: list[dict[str, str]], concurrency: int
) -> float:
    """One committed INSERT of the lead row per lead, as intake does, with no framework."""
    pool = await asyncpg.create_pool(
        asyncpg_dsn(database_url), min_size=concurrency, max_size=concurrency
    )
    try:
        await pool.execute(
            "CREATE TABLE IF NOT EXISTS public.bench_leads (LIKE intake.leads INCLUDING ALL)"
        )
        await pool.execute("TRUNCATE public.bench_leads")

        async def one(i: int) -> None:
            p = payloads[i]
            await pool.execute(
                "INSERT INTO public.bench_leads (id, received_at, channel, source, campaign, email,"
                " email_domain, free_mail, name, company, title, phone, country, raw)"
                " VALUES ($1, $2, 'api', $3, $4, $5, $6, false, $7, $8, $9, $10, 'US', $11)",
                uuid.uuid4(),
                datetime.now(UTC),
                p["source"],
                p["campaign"],
                p["email"],
                p["email"].split("@")[1],
                p["name"],
                p["company"],
                p["title"],
                p["phone"],
                json.dumps(p),
            )

        return await drive(len(payloads), concurrency, one)
    finally:
        await pool.execute("DROP TABLE IF EXISTS public.bench_leads")
        await pool.close()
