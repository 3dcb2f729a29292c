"""Outbound webhook deliveries per second through ops' real sender, against the receiver's
own rate in the same run.

    .venv/bin/python -m bench.webhook_delivery [--deliveries 5000] [--runs 3] [--markdown]

Starts its own embedded PostgreSQL (migrated for ops) and, in a process of its own, the
bare receiver of ``bench.ceilings`` (uvicorn, uvloop, httptools: it reads the body and
answers 202, nothing else). Each run subscribes a URL of it to ``leadflow.lead.received``,
keeps N events in the event log by the real recording path, then times ops'
``WebhookSender`` from the first pass until all N are delivered: each new event queued
(the subscription's cursor), claimed under a lease, signed (Standard Webhooks), POSTed
``OPS_WEBHOOK_BATCH`` (50) at a time, and its attempt and outcome recorded.

The ceiling: wrk (C) POSTing a lead body to the same receiver with as many connections as
the sender has requests in flight, in the same run. Ours is printed as a ratio to it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from sqlalchemy import func, select

from bench.harness import migrated_database, print_runs
from bench.stack import ceiling_server
from bench.tools import require_wrk
from bench.wrk import run_wrk
from services.ops import webhook_store
from services.ops.recording import record_all
from services.ops.settings import OpsSettings
from services.ops.tables import webhook_deliveries
from services.ops.webhook_sender import WebhookSender
from shared.db import SessionFactory, make_engine, make_sessions
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived

SETTINGS = OpsSettings(webhook_allow_private_targets=True, webhook_poll_s=0.01)


def _events(run: int, n: int) -> list[tuple[Envelope, str]]:
    at = datetime.now(UTC)
    return [
        (
            LeadReceived(
                lead_id=uuid4(),
                received_at=at,
                channel="api",
                source="bench",
                email=f"person{run}x{i}@initech.com",
                email_domain="initech.com",
                name="Pat Doe",
                company="Initech",
            ).envelope("/intake"),
            "leads.received",
        )
        for i in range(n)
    ]


async def _delivered(sessions: SessionFactory, subscription_id: object) -> int:
    async with sessions() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(webhook_deliveries)
            .where(
                webhook_deliveries.c.subscription_id == subscription_id,
                webhook_deliveries.c.status == "delivered",
            )
        )
    return int(found or 0)


async def _one_run(sessions: SessionFactory, url: str, run: int, n: int) -> tuple[float, float]:
    """(deliveries/s, seconds to deliver all)."""
    async with sessions() as session, session.begin():
        subscription = await webhook_store.create_subscription(
            session,
            subscription_id=uuid4(),
            url=url,
            description="bench",
            types=["leadflow.lead.received"],
            owner_firm_id=None,
            firm_id=None,
            secret="whsec_" + secrets.token_urlsafe(24),
            created_by="bench",
        )
    events = _events(run, n)
    for start in range(0, n, 500):
        async with sessions() as session, session.begin():
            await record_all(session, events[start : start + 500])
    sender = WebhookSender(sessions, SETTINGS)
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(sender.run(stop))
    while await _delivered(sessions, subscription.id) < n:  # noqa: ASYNC110  # a count in the database
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    async with sessions() as session, session.begin():  # the next run starts clean
        await webhook_store.delete_subscription(session, subscription.id)
    return n / elapsed, elapsed


async def _main(database_url: str, deliveries: int, runs: int, markdown: bool) -> None:
    wrk = require_wrk()
    engine = make_engine(database_url, pool_size=5)
    sessions = make_sessions(engine)
    env = {**os.environ, "DATABASE_URL": database_url}
    ours: list[float] = []
    took: list[float] = []
    ceiling: list[float] = []
    with tempfile.TemporaryDirectory() as logs:
        log_dir = Path(logs)
        try:
            async with ceiling_server("bare", env, log_dir) as (base, _pid):
                for run in range(runs):
                    rate, elapsed = await _one_run(sessions, f"{base}/hook", run, deliveries)
                    ours.append(rate)
                    took.append(elapsed)
                    bare = await run_wrk(
                        wrk,
                        f"{base}/hook",
                        tag=f"hook{run}{secrets.token_hex(3)}",
                        token="bench",
                        threads=2,
                        connections=SETTINGS.webhook_batch,
                        duration_s=5,
                        log_dir=log_dir,
                    )
                    ceiling.append(bare.per_s)
                    print(
                        f"run {run + 1}: {rate:,.0f} deliveries/s ({elapsed:.1f} s), "
                        f"bare receiver {bare.per_s:,.0f} req/s",
                        flush=True,
                    )
        finally:
            await engine.dispose()
    print_runs(
        f"outbound webhooks, {deliveries} deliveries a run, {SETTINGS.webhook_batch} in flight",
        [
            ("delivered/s (queued, signed, POSTed, recorded)", ours, "{:,.0f}"),
            ("seconds to deliver them all", took, "{:.1f}"),
            ("bare receiver under wrk, req/s (ceiling)", ceiling, "{:,.0f}"),
            ("ours / ceiling", [o / c for o, c in zip(ours, ceiling, strict=True)], "{:.3f}"),
        ],
        markdown=markdown,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    with migrated_database(["ops"]) as url:
        asyncio.run(_main(url, args.deliveries, args.runs, args.markdown))


if __name__ == "__main__":
    main()
