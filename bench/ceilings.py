"""The machine's ceilings, measured in the same run as Leadflow's figures, each an ASGI app
served the way a service is (one uvicorn process, uvloop and httptools, no access log):

- ``bare_app``: a JSON endpoint doing no work (what HTTP alone costs);
- ``raw_asyncpg_app``: the physical limit of a one-row-pair-per-request design: its POST
  parses the JSON body and, on an asyncpg pool as large as a service's, commits the lead
  row and its outbox row in one transaction (with the outbox's NOTIFY, as intake's
  transaction has), nothing else. It writes to ``bench.leads`` / ``bench.outbox``, made
  ``LIKE`` intake's tables (same columns, defaults, indexes, identity), because a row in
  ``intake.outbox`` would be published by intake's relay and go down the pipeline.

``python -m bench.ceilings bare|raw --port N`` serves one (raw: DATABASE_URL). Also the
httpx driver that ``bench.intake_channels`` still uses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import uvicorn

from shared.db import asyncpg_dsn
from shared.embedded import free_port, wait_for_port

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]
BARE_ANSWER = b'{"lead_id":"00000000-0000-0000-0000-000000000000"}'


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": JSON_HEADERS})
    await send({"type": "http.response.body", "body": body})


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await _read_body(receive)
    await _answer(send, 202 if scope["method"] == "POST" else 200, BARE_ANSWER)


RAW_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE IF NOT EXISTS bench.leads (LIKE intake.leads INCLUDING ALL);
CREATE TABLE IF NOT EXISTS bench.outbox (LIKE intake.outbox INCLUDING ALL);
"""
INSERT_LEAD = """
INSERT INTO bench.leads (id, received_at, channel, source, campaign, email, email_domain,
    free_mail, name, company, title, phone, country, raw, firm_id, company_key, disposable,
    dedup_scope)
VALUES ($1, $2, 'api', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, NULL, $14,
    false, $15)
"""
INSERT_OUTBOX = """
INSERT INTO bench.outbox (event_id, topic, key, event_type, payload, headers)
VALUES ($1, 'leads.received', $2, 'leadflow.lead.received.v1', $3::jsonb, '{}'::jsonb)
"""
NOTIFY = "SELECT pg_notify('bench_outbox', '')"
FREE_MAIL = frozenset({"gmail.com", "yahoo.com", "outlook.com", "hotmail.com"})


def _lead_and_event(body: bytes) -> tuple[uuid.UUID, tuple[Any, ...], tuple[Any, ...]]:
    """The lead row and its ``lead.received`` envelope, with the values intake would give
    them (its normalization aside: the body is taken as it comes)."""
    lead = json.loads(body)
    lead_id, event_id, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
    email = lead["email"].lower()
    domain = email.rpartition("@")[2]
    source = lead.get("source", "api")
    company = lead.get("company")
    data = {
        "lead_id": str(lead_id),
        "received_at": now.isoformat(),
        "channel": "api",
        "source": source,
        "campaign": lead.get("campaign"),
        "firm_id": None,
        "email": email,
        "email_domain": domain,
        "free_mail": domain in FREE_MAIL,
        "name": lead.get("name"),
        "company": company,
        "title": lead.get("title"),
        "phone": lead.get("phone"),
        "country": lead.get("country"),
    }
    envelope = {
        "specversion": "1.0",
        "id": str(event_id),
        "source": "/intake",
        "type": "leadflow.lead.received.v1",
        "time": now.isoformat(),
        "subject": f"lead/{lead_id}",
        "datacontenttype": "application/json",
        "partitionkey": str(lead_id),
        "data": data,
        "traceparent": None,
        "tracestate": None,
    }
    row = (
        lead_id,
        now,
        source,
        lead.get("campaign"),
        email,
        domain,
        domain in FREE_MAIL,
        lead.get("name"),
        company,
        lead.get("title"),
        lead.get("phone"),
        lead.get("country"),
        body.decode(),
        (company or "").lower() or None,
        f"-|{source.casefold()}|{email}",
    )
    return lead_id, row, (event_id, str(lead_id), json.dumps(envelope))


def raw_asyncpg_app(database_url: str, pool_size: int) -> Callable[..., Awaitable[None]]:
    """The ceiling app on a pool like a service's (``DB_POOL_SIZE``, as many again in
    overflow, as ``shared.db.make_engine`` makes)."""
    pool: asyncpg.Pool | None = None

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal pool
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    pool = await asyncpg.create_pool(
                        asyncpg_dsn(database_url), min_size=pool_size, max_size=2 * pool_size
                    )
                    await pool.execute(RAW_SCHEMA)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if pool is not None:
                        await pool.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http" or pool is None:
            return
        if scope["method"] != "POST":  # the bench's readiness probe
            await _answer(send, 200, b"{}")
            return
        lead_id, row, event = _lead_and_event(await _read_body(receive))
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(INSERT_LEAD, *row)
            await conn.execute(INSERT_OUTBOX, *event)
            await conn.execute(NOTIFY)
        await _answer(send, 202, b'{"lead_id":"%s"}' % str(lead_id).encode())

    return app


def serve(app: Callable[..., Awaitable[None]], port: int) -> None:
    """As ``leadflow serve`` runs a service (one process, its uvicorn settings)."""
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        access_log=False,
        log_level="warning",
        proxy_headers=False,
        timeout_graceful_shutdown=20,
    )


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
    """The bare app driven by httpx (``bench.intake_channels``' Python client)."""
    port = free_port()
    server = subprocess.Popen(  # noqa: ASYNC220 - started before the clock runs
        [sys.executable, "-m", "bench.ceilings", "bare", "--port", str(port)]
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


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a ceiling app")
    parser.add_argument("app", choices=["bare", "raw"])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.app == "bare":
        serve(bare_app, args.port)
    else:
        serve(
            raw_asyncpg_app(os.environ["DATABASE_URL"], int(os.environ.get("DB_POOL_SIZE", "10"))),
            args.port,
        )


if __name__ == "__main__":
    main()
