"""Leads per second through credit's real event handlers on embedded PostgreSQL.

    .venv/bin/python -m bench.credit_consumer [--leads 1000] [--runs 3] [--batch 500]

Starts its own embedded PostgreSQL (migrated) with one firm under the default contract,
then for each run feeds N leads' facts as the consumer does (a transaction per
``--batch`` facts, a poll: their processed-event rows in one statement, then the batch
handler): every lead is
received and routed to the firm's account; half are the firm's own registrations, half
inbound; every fifth gets a touch logged after it but dated the day before (so the touch
queues it for review); every tenth a meeting booked and held. The run ends when the
review sweep has drained the queue. All leads share five domains, so the touches and
the per-domain locks meet busy accounts. The ceiling, measured in the same run
(``bench.harness.same_rows_rate``): the rows the run wrote (processed ids, facts,
touches, claims, meeting places, decisions, ledger, outbox) written again by bare asyncpg
with binary COPY into empty copies of those tables, as many transactions as the run had
batches, as facts/s. Bare round trips (``SELECT 1``), one per fact, are printed beside
it. Before each run credit's tables are ANALYZEd, as autovacuum would keep them: without
it the planner took the fresh tables for empty and the touch lookup scanned every touch,
so each run was slower than the last (3,111 → 1,739 → 1,259 facts/s). Medians of the
runs.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import text

from bench.harness import migrated_database, print_runs, round_trip_rate, same_rows_rate
from services.credit import store
from services.credit.consumer import on_facts
from services.credit.domain.contract import Terms
from services.credit.sweep import sweep_once
from shared import heap
from shared.consumer import Incoming, claim
from shared.db import SessionFactory, make_engine, make_sessions
from shared.events.activities import ActivityLogged, MeetingUpdated
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from shared.events.routing import AccountMatch, FirmAssignment, LeadRouted
from shared.outbox import Outbox
from shared.plumbing_tables import processed_sql

OUTBOX = Outbox(store.SCHEMA, source="/credit")
PROCESSED = processed_sql(store.SCHEMA)
FIRM = "bench-firm"
DOMAINS = ["walmart.com", "initech.com", "globex.com", "umbrella.com", "example.org"]


def lead_facts(run: int, i: int) -> list[Envelope]:
    """One lead's facts in the order the topics deliver them."""
    lead_id, domain = uuid4(), DOMAINS[i % len(DOMAINS)]
    at = datetime.now(UTC)
    own = i % 2 == 0
    facts = [
        LeadReceived(
            lead_id=lead_id,
            received_at=at,
            channel="partner" if own else "api",
            source="bench",
            firm_id=FIRM if own else None,
            email=f"person{run}x{i}@{domain}",
            email_domain=domain,
            company="Bench Co",
            country="US",
        ).envelope("/intake"),
        LeadRouted(
            lead_id=lead_id,
            revision=1,
            lead_received_at=at,
            decided_at=at,
            channel="partner" if own else "api",
            account=AccountMatch(account_id=domain, name=domain, method="domain", score=1),
            owner=None,
            queue=None,
            flags=[],
            firm_assignment=FirmAssignment(firm_id=FIRM, starts_on=date(2026, 1, 1)),
            ruleset_version="bench",
            trace=[],
            explanation="bench",
            rule="firm_assignment",
        ).envelope("/router"),
    ]
    if i % 5 == 0:
        facts.append(
            ActivityLogged(
                activity_id=uuid4(),
                firm_id=FIRM,
                kind="call",
                occurred_at=at - timedelta(days=1),
                logged_at=at,
                contact_email=f"person{run}x{i}@{domain}",
                email_domain=domain,
            ).envelope("/intake")
        )
    if i % 10 == 0:
        meeting_id = uuid4()
        for status in ("booked", "held"):
            facts.append(
                MeetingUpdated(
                    meeting_id=meeting_id,
                    firm_id=FIRM,
                    lead_id=lead_id,
                    contact_email=f"person{run}x{i}@{domain}",
                    email_domain=domain,
                    status=status,
                    occurred_at=at,
                    reported_at=at,
                    reported_by="firm",
                ).envelope("/intake")
            )
    return facts


# What the handlers and the sweep write, for the ceiling (the review queue's rows, gone
# when the sweep is done, left out).
WRITTEN = [
    (f"{store.SCHEMA}.processed_events", "event_id = ANY($1::uuid[])"),
    (f"{store.SCHEMA}.facts", "lead_id = ANY($1::uuid[])"),
    (f"{store.SCHEMA}.touches", "event_id = ANY($1::uuid[])"),
    (f"{store.SCHEMA}.claims", "lead_id = ANY($1::uuid[])"),
    (f"{store.SCHEMA}.meeting_places", "lead_id = ANY($1::uuid[])"),
    (f"{store.SCHEMA}.credit_decisions", "lead_id = ANY($1::uuid[])"),
    (f"{store.SCHEMA}.ledger", "lead_id = ANY($1::uuid[])"),
    (f"{store.SCHEMA}.outbox", "(payload #>> '{data,lead_id}')::uuid = ANY($1::uuid[])"),
]


async def decide_leads(
    sessions: SessionFactory, run: int, n: int, batch: int, ids: list[Any] | None = None
) -> tuple[float, int]:
    """Leads/s through the handlers and the sweep that drains the review queue; and the
    number of facts fed. ``ids`` gets the leads' and the facts' ids."""
    envelopes = [e for i in range(n) for e in lead_facts(run, i)]
    if ids is not None:
        leads = {UUID(e.data["lead_id"]) for e in envelopes if e.data.get("lead_id")}
        ids += list(leads) + [e.id for e in envelopes]
    started = time.perf_counter()
    for start in range(0, len(envelopes), batch):
        chunk = envelopes[start : start + batch]
        async with sessions() as session, session.begin():
            new = await claim(
                session, PROCESSED, "credit.facts", [e.id for e in chunk], ["bench"] * len(chunk)
            )
            await on_facts(session, [Incoming(e, "bench") for e in chunk if e.id in new], OUTBOX)
    await sweep_once(sessions, OUTBOX, now=datetime.now(UTC))
    return n / (time.perf_counter() - started), len(envelopes)


async def bench(database_url: str, leads: int, runs: int, batch: int) -> None:
    engine = make_engine(database_url, pool_size=2)
    sessions = make_sessions(engine)
    try:
        async with sessions() as session, session.begin():
            await store.add_contract(session, FIRM, Terms(acceptance_business_days=0))
        await decide_leads(sessions, -1, 50, batch)  # warm up (imports, caches, pool)
        heap.settle()  # as the service does once started
        ours, per_fact, ceiling, trips = [], [], [], []
        for run in range(runs):
            ids: list[Any] = []
            async with sessions() as session:  # the history's statistics, as autovacuum keeps
                await session.execute(text(f"ANALYZE {', '.join(t for t, _ in WRITTEN)}"))
                await session.commit()
            rate, facts = await decide_leads(sessions, run, leads, batch, ids)
            ours.append(rate)
            per_fact.append(rate * facts / leads)
            same = await same_rows_rate(database_url, WRITTEN, ids, -(-facts // batch))
            ceiling.append(same * facts / len(ids))  # facts/s
            trips.append(await round_trip_rate(database_url, facts))
    finally:
        await engine.dispose()
    ratio = [f / c for f, c in zip(per_fact, ceiling, strict=True)]
    print_runs(
        f"credit consumer: {leads} leads per run, {batch} facts per transaction",
        [
            ("decided leads/s (all their facts)", ours, "{:.0f}"),
            ("facts/s", per_fact, "{:.0f}"),
            ("ceiling: the same rows by asyncpg COPY, facts/s", ceiling, "{:.0f}"),
            ("facts / ceiling", ratio, "{:.3f}"),
            ("asyncpg round trips/s", trips, "{:.0f}"),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--batch", type=int, default=500, help="facts per transaction (the README's figures)"
    )
    args = parser.parse_args()
    with migrated_database(["credit"]) as url:
        asyncio.run(bench(url, args.leads, args.runs, args.batch))


if __name__ == "__main__":
    main()
