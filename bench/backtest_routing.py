"""Leads per second through the routing backtest (issue 18), against its own reads alone in
the same run.

    .venv/bin/python -m bench.backtest_routing [--leads 20000] [--runs 3]

Starts its own embedded PostgreSQL (migrated for the router), loads the demo workspace,
routes ``--leads`` leads through the real service (``route_new_leads``, 500 a
transaction; received one a second from 2026-06-01), then times ``backtest_routing``
over their window under the active rule set (the reproducibility proof: it must find 0
differences): the history read (each lead's first decision), the counts and workspace,
the round-robin rewind, the candidate accounts, and the pure ``decide`` of every lead
with the counters carried. The ceiling: the same reads alone (history and candidate
accounts), so the ratio says how much of the time is the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

from bench.harness import migrated_database, print_runs
from services.router import service, store
from services.router.backtest import CHUNK, backtest_routing, stored_lead
from services.router.demo import seed_demo
from services.router.tables import SCHEMA
from shared import heap
from shared.db import SessionFactory, driver_connection, make_engine, make_sessions
from shared.events.leads import LeadReceived
from shared.outbox import Outbox

OUTBOX = Outbox(SCHEMA, source="/router")
DOMAINS = ["walmart.com", "initech.com", "globex.com", "gmail.com", "example.org"]
START = datetime(2026, 6, 1, tzinfo=UTC)
WINDOW = (date(2026, 6, 1), date(2026, 12, 1))


async def _history(sessions: SessionFactory, leads: int) -> None:
    async with sessions() as session:
        await seed_demo(session)
    for first in range(0, leads, 500):
        batch = []
        for i in range(first, min(leads, first + 500)):
            domain = DOMAINS[i % len(DOMAINS)]
            batch.append(
                (
                    LeadReceived(
                        lead_id=uuid4(), received_at=START + timedelta(seconds=i), channel="api",
                        source="bench", email=f"p{i}@{domain}", email_domain=domain,
                        free_mail=domain == "gmail.com", company="Bench Co", country="US",
                    ),
                    None,
                )
            )  # fmt: skip
        async with sessions() as session, session.begin():
            await service.route_new_leads(session, OUTBOX, batch, now=batch[-1][0].received_at)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _reads(sessions: SessionFactory, leads: int) -> float:
    started = time.perf_counter()
    async with sessions() as session, session.begin():
        conn = await driver_connection(session)
        start = datetime.combine(WINDOW[0], datetime.min.time(), tzinfo=UTC)
        end = datetime.combine(WINDOW[1], datetime.min.time(), tzinfo=UTC)
        async for history in store.first_decisions_between(conn, start, end, CHUNK):
            leads_read = [stored_lead(first.received) for first in history]
            await store.candidate_accounts_of(conn, leads_read)
    return leads / (time.perf_counter() - started)


async def _main(database_url: str, leads: int, runs: int, markdown: bool) -> None:
    engine = make_engine(database_url, pool_size=2)
    sessions = make_sessions(engine)
    try:
        started = time.perf_counter()
        await _history(sessions, leads)
        print(f"{leads} leads routed in {time.perf_counter() - started:.0f} s", flush=True)
        heap.settle()  # as a job's child process does
        ours: list[float] = []
        reads: list[float] = []
        for run in range(runs):
            started = time.perf_counter()
            report = await backtest_routing(sessions, None, WINDOW)
            elapsed = time.perf_counter() - started
            if report.leads != leads or report.differences:
                raise RuntimeError(f"the proof failed: {report.leads} leads, {report.changed}")
            ours.append(leads / elapsed)
            reads.append(await _reads(sessions, leads))
            print(
                f"run {run + 1}: {ours[-1]:,.0f} leads/s ({elapsed:.1f} s, "
                f"{report.rotation} rotation differences); reads alone {reads[-1]:,.0f}/s",
                flush=True,
            )
    finally:
        await engine.dispose()
    print_runs(
        f"routing backtest, {leads:,} leads under the active rule set (0 differences)",
        [
            ("backtested leads/s (read, rewind, decide)", ours, "{:,.0f}"),
            ("its reads alone, leads/s (ceiling)", reads, "{:,.0f}"),
            ("ours / reads", [o / r for o, r in zip(ours, reads, strict=True)], "{:.2f}"),
            ("1,000,000 leads at this rate, s", [1_000_000 / o for o in ours], "{:,.0f}"),
            ("peak resident memory of this process, MB", [peak_rss_mb()] * runs, "{:,.0f}"),
        ],
        markdown=markdown,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    with migrated_database(["router"]) as url:
        asyncio.run(_main(url, args.leads, args.runs, args.markdown))


if __name__ == "__main__":
    main()
