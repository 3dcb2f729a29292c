"""Leads per second through router's real ``lead.received`` handler on embedded PostgreSQL.

    .venv/bin/python -m bench.router_consumer [--leads 1000] [--runs 3] [--batch 200]

Starts its own embedded PostgreSQL (migrated), loads the demo workspace plus a few
hundred owners in teams and territories, then for each run routes N leads as the
consumer does: a transaction per ``--batch`` leads (a poll), the batch's processed-event
rows in one statement, then ``on_leads_received`` (one snapshot, every decision, and the
round-robin counters, decision rows, outbox rows, lifecycles and SLA timers set-based).
The ceiling, measured in the same run (``bench.harness.same_rows_rate``): the rows the
run wrote (processed ids, lead rows, decisions, lifecycles, SLA timers, outbox), read back
and written again by bare asyncpg with binary COPY into empty copies of those tables (same
indexes and constraints), as many transactions as the run had batches; ours is printed
as a ratio to it. Bare ``SELECT 1`` round trips on one connection are printed beside it.
Medians of the runs are reported (the machine is shared).
``--profile`` prints the top functions of one extra run by cumulative time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from sqlalchemy.dialects.postgresql import insert

from bench.harness import migrated_database, print_runs, round_trip_rate, same_rows_rate
from services.router.consumer import on_leads_received
from services.router.demo import seed_demo
from services.router.tables import SCHEMA, OwnerRow, TeamRow, TerritoryRow
from shared import heap
from shared.consumer import Incoming, claim
from shared.db import SessionFactory, make_engine, make_sessions
from shared.events.leads import LeadReceived
from shared.outbox import Outbox
from shared.plumbing_tables import processed_sql

OUTBOX = Outbox(SCHEMA, source="/router")
PROCESSED = processed_sql(SCHEMA)
TOPIC = "leads.received"
DOMAINS = ["walmart.com", "initech.com", "globex.com", "gmail.com", "example.org"]
TEAMS, OWNERS_PER_TEAM = 20, 10


async def seed(sessions: SessionFactory) -> None:
    """The demo workspace, and 20 teams of 10 owners, each team a territory of its own."""
    async with sessions() as session:
        await seed_demo(session)
    async with sessions() as session, session.begin():
        for t in range(TEAMS):
            team = f"bench-team-{t}"
            await session.execute(
                insert(TeamRow)
                .values(id=team, name=f"Bench {t}", queue=team)
                .on_conflict_do_nothing()
            )
            await session.execute(
                insert(TerritoryRow)
                .values(id=f"bench-{t}", name=f"Bench {t}", countries=[f"Q{chr(65 + t)}"])
                .on_conflict_do_nothing()
            )
            for o in range(OWNERS_PER_TEAM):
                await session.execute(
                    insert(OwnerRow)
                    .values(id=f"bench-{t}-{o}", name=f"Rep {t}.{o}", role="AE", team_id=team)
                    .on_conflict_do_nothing()
                )


def lead(run: int, i: int) -> LeadReceived:
    domain = DOMAINS[i % len(DOMAINS)]
    return LeadReceived(
        lead_id=uuid4(),
        received_at=datetime.now(UTC),
        channel="api",
        source="bench",
        email=f"person{run}x{i}@{domain}",
        email_domain=domain,
        free_mail=domain == "gmail.com",
        company="Bench Co",
        country="US",
    )


# What the handler writes per lead, for the ceiling (the round-robin counters' and open
# leads' few updates per batch left out).
WRITTEN = [
    (f"{SCHEMA}.processed_events", "event_id = ANY($1::uuid[])"),
    (f"{SCHEMA}.leads", "lead_id = ANY($1::uuid[])"),
    (f"{SCHEMA}.routing_decisions", "lead_id = ANY($1::uuid[])"),
    (f"{SCHEMA}.lifecycles", "lead_id = ANY($1::uuid[])"),
    (f"{SCHEMA}.sla_timers", "lead_id = ANY($1::uuid[])"),
    (f"{SCHEMA}.outbox", "(payload #>> '{data,lead_id}')::uuid = ANY($1::uuid[])"),
]


async def route_leads(
    sessions: SessionFactory, run: int, n: int, batch: int, ids: list[Any] | None = None
) -> float:
    """Leads/s through the handler; ``ids`` gets the leads' and events' ids."""
    events = [lead(run, i) for i in range(n)]
    envelopes = [e.envelope("/intake") for e in events]
    if ids is not None:
        ids += [e.lead_id for e in events] + [e.id for e in envelopes]
    started = time.perf_counter()
    for start in range(0, n, batch):
        chunk = envelopes[start : start + batch]
        async with sessions() as session, session.begin():
            new = await claim(
                session, PROCESSED, "router.leads", [e.id for e in chunk], [TOPIC] * len(chunk)
            )
            incoming = [Incoming(e, TOPIC) for e in chunk if e.id in new]
            await on_leads_received(session, incoming, OUTBOX)
    return n / (time.perf_counter() - started)


async def bench(database_url: str, leads: int, runs: int, batch: int, profile: bool) -> None:
    engine = make_engine(database_url, pool_size=2)
    sessions = make_sessions(engine)
    try:
        await seed(sessions)
        await route_leads(sessions, -1, 50, batch)  # warm up (imports, caches, pool)
        heap.settle()  # as the service does once started
        ours, ceiling, trips = [], [], []
        for run in range(runs):
            ids: list[Any] = []
            ours.append(await route_leads(sessions, run, leads, batch, ids))
            rate = await same_rows_rate(database_url, WRITTEN, ids, -(-leads // batch))
            ceiling.append(rate / 2)  # ids: a lead's and its event's
            trips.append(await round_trip_rate(database_url, leads))
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            await route_leads(sessions, runs, leads, batch)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    finally:
        await engine.dispose()
    ratio = [o / c for o, c in zip(ours, ceiling, strict=True)]
    print_runs(
        f"router consumer: {leads} leads per run, {batch} per transaction",
        [
            ("routed leads/s", ours, "{:.0f}"),
            ("ceiling: the same rows by asyncpg COPY, leads/s", ceiling, "{:.0f}"),
            ("routed / ceiling", ratio, "{:.3f}"),
            ("asyncpg round trips/s", trips, "{:.0f}"),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--batch", type=int, default=200, help="leads per transaction (CONSUMER_BATCH_SIZE)"
    )
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with migrated_database(["router"]) as url:
        asyncio.run(bench(url, args.leads, args.runs, args.batch, args.profile))


if __name__ == "__main__":
    main()
