"""Events per second through ops' real event-log consumer path on embedded PostgreSQL.

    .venv/bin/python -m bench.ops_consumer [--events 20000] [--batch 200] [--runs 3]
                                           [--profile] [--firms-only]

Starts its own embedded PostgreSQL (migrated for ops), then for each run feeds N events as
ops' consumer does: a transaction per ``--batch`` events (a poll) handed to the batch
handler ``keep_all`` (``recording.record_all``: the writer lock, the lead's known firm and
account, the rows in one ``INSERT ... SELECT FROM unnest``, the backfill, one NOTIFY). No
processed-event rows: the event log, unique by event id, is ops' own record of what it
kept (``ConsumerSpec.keeps_once``).

The events are leads' real stories, built from the ``shared/events`` models and passed
through ``Envelope.to_bytes``/``from_bytes`` (as the consumer gets them): received,
routed, credit-decided, then (when matched) accepted or rejected by sales; firms log
touches and meetings (booked, held) on their leads. A quarter of the leads each: a firm's
own registration; inbound on a firm's account (its firm arrives with the credit decision
and is backfilled); inbound on an account no firm has; unmatched. ``--firms-only`` keeps
the first two kinds (a partner-heavy workspace: few rows without a firm or account). The
topics interleave: each of a lead's later facts arrives ``LAG`` leads after the one
before, so a batch mixes leads and types and a lead's story spans polls (the known
firm/account lookup and the backfill do real work). Before each run the log is ANALYZEd:
the planner sees its history's statistics, as autovacuum would keep them (a run is over
before autovacuum's first look).

The ceiling, measured in the same run on the same rows (the same 13 columns, indexed as
ops indexes them, the same JSON text for ``data``, all prepared before the clock starts):
bare asyncpg on one connection, a transaction per ``--batch`` rows, into a copy of the
table (``CREATE TABLE ... (LIKE ops.event_log INCLUDING ALL)``: the same identity, unique
key and indexes) with ``copy_records_to_table`` (binary COPY). That is the faster of the
two honest ways: here it wrote about 40,000 rows/s where the same batches as a plain
``INSERT ... SELECT FROM unnest`` (ops' statement without ON CONFLICT and RETURNING) wrote
about 28,500. Ours is printed as a ratio to it. Medians of the runs (the machine is
shared). ``--profile`` prints the top functions of one extra run by cumulative time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import asyncpg
from pydantic_core import to_json

from bench.harness import migrated_database, print_runs
from services.ops.consumer import keep_all
from services.ops.domain.extract import indexed
from services.ops.tables import SCHEMA
from shared import heap
from shared.consumer import Incoming
from shared.db import SessionFactory, asyncpg_dsn, make_engine, make_sessions
from shared.events.activities import ActivityLogged, MeetingUpdated
from shared.events.base import Event
from shared.events.credit import CreditDecided, Reason
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from shared.events.routing import AccountMatch, FirmAssignment, LeadRouted, OwnerRef, TraceStep
from shared.events.status import LeadStatusChanged

FIRMS = ["bench-firm-a", "bench-firm-b", "bench-firm-c"]
DOMAINS = ["walmart.com", "initech.com", "globex.com", "umbrella.com", "example.org"]
LAG = 37  # leads between one of a lead's facts and its next (topics interleave)
CEILING = "bench_ceiling.event_log"
COLUMNS = [
    "event_id",
    "type",
    "topic",
    "source",
    "time",
    "subject",
    "lead_id",
    "firm_id",
    "account_id",
    "owner_id",
    "channel",
    "campaign",
    "data",
]

Fact = tuple[Envelope, str]  # (envelope, topic)


def _fact(event: Event, source: str) -> Fact:
    envelope = Envelope.from_bytes(event.envelope(source).to_bytes())  # as consumed
    return envelope, event.topic.name


def lead_story(run: int, i: int, firms_only: bool = False) -> list[Fact]:
    """One lead's facts in the order they happen. A lead is one of four kinds (``i % 4``):
    a firm's own registration; inbound on a firm's account (its firm is known from the
    credit decision, then backfilled); inbound on an account no firm has; unmatched (no
    account, a queue). Firms log touches and meetings on their leads. ``firms_only``: only
    the first two kinds (a workspace whose leads are all firms')."""
    lead_id, domain, firm = uuid4(), DOMAINS[i % len(DOMAINS)], FIRMS[i % len(FIRMS)]
    at = datetime.now(UTC)
    kind = i % 2 if firms_only else i % 4
    own, firms_lead, matched = kind == 0, kind in (0, 1), kind != 3
    channel = "partner" if own else "web"
    email = f"person{run}x{i}@{domain}"
    owner = OwnerRef(owner_id=f"own-{i % 40}", name="Dana Ortiz", role="AE") if matched else None
    story = [
        _fact(
            LeadReceived(
                lead_id=lead_id,
                received_at=at,
                channel=channel,
                source="bench",
                campaign=None if own else "spring",
                firm_id=firm if own else None,
                email=email,
                email_domain=domain,
                name="Pat Doe",
                company="Bench Co",
                title="VP Sales",
                country="US",
            ),
            "/intake",
        ),
        _fact(
            LeadRouted(
                lead_id=lead_id,
                revision=1,
                lead_received_at=at,
                decided_at=at + timedelta(seconds=1),
                channel=channel,
                account=AccountMatch(account_id=domain, name=domain, method="domain", score=1.0)
                if matched
                else None,
                owner=owner,
                queue=None if matched else "inbound-unassigned",
                flags=[] if matched else ["unmatched"],
                firm_assignment=FirmAssignment(firm_id=firm, starts_on=date(2026, 1, 1))
                if firms_lead
                else None,
                ruleset_version="bench",
                trace=[
                    TraceStep(rule="firm_assignment", matched=firms_lead, reason="the firm's"),
                    TraceStep(rule="account_owner", matched=matched, reason="the account's AE"),
                ],
                explanation="Routed to Dana Ortiz (AE)." if matched else "No account matched.",
                rule="firm_assignment" if firms_lead else "account_owner" if matched else None,
            ),
            "/router",
        ),
        _fact(
            CreditDecided(
                lead_id=lead_id,
                revision=1,
                routing_revision=1,
                firm_id=firm if firms_lead else None,
                state="credited" if own else "pending" if firms_lead else "not_eligible",
                amount=Decimal("150.00") if firms_lead else Decimal("0"),
                currency="USD",
                policy_version="bench",
                reasons=[Reason(rule="bench", sentence="The bench's decision.")],
                decided_at=at + timedelta(seconds=2),
            ),
            "/credit",
        ),
    ]
    if firms_lead and i % 3 == 0:
        story.append(
            _fact(
                ActivityLogged(
                    activity_id=uuid4(),
                    firm_id=firm,
                    kind="call",
                    occurred_at=at + timedelta(hours=1),
                    logged_at=at + timedelta(hours=1),
                    contact_email=email,
                    email_domain=domain,
                    lead_id=lead_id,
                    notes="Left a voicemail.",
                ),
                "/intake",
            )
        )
    if firms_lead and i % 5 == 0:
        meeting_id = uuid4()
        for status in ("booked", "held"):
            story.append(
                _fact(
                    MeetingUpdated(
                        meeting_id=meeting_id,
                        firm_id=firm,
                        lead_id=lead_id,
                        contact_email=email,
                        email_domain=domain,
                        status=status,
                        occurred_at=at + timedelta(days=1),
                        reported_at=at + timedelta(days=1),
                        reported_by="firm",
                    ),
                    "/intake",
                )
            )
    if matched:
        story.append(
            _fact(
                LeadStatusChanged(
                    lead_id=lead_id,
                    stage="accepted" if i % 7 else "rejected",
                    reason_code=None if i % 7 else "not_icp",
                    actor=f"own-{i % 40}",
                    occurred_at=at + timedelta(days=2),
                ),
                "/intake",
            )
        )
    return story


def event_stream(run: int, n: int, firms_only: bool = False) -> list[Fact]:
    """N facts of as many leads as it takes, interleaved as the topics deliver them."""
    placed: list[tuple[int, int, Fact]] = []
    i = 0
    while len(placed) < n + LAG * 6:  # enough that the first n are a steady mix
        placed += [
            (i + step * LAG, step, fact) for step, fact in enumerate(lead_story(run, i, firms_only))
        ]
        i += 1
    placed.sort(key=lambda p: (p[0], p[1]))
    return [fact for _, _, fact in placed[:n]]


async def record_events(sessions: SessionFactory, facts: list[Fact], batch: int) -> float:
    """Events/s through the consumer's path: ``keep_all``, a poll at a time."""
    started = time.perf_counter()
    for start in range(0, len(facts), batch):
        chunk = facts[start : start + batch]
        async with sessions() as session, session.begin():
            await keep_all(session, [Incoming(e, t) for e, t in chunk])
    return len(facts) / (time.perf_counter() - started)


def ceiling_records(facts: list[Fact]) -> list[tuple[Any, ...]]:
    """The same rows ops writes (its indexed columns, its JSON text), ready to send."""
    records = []
    for envelope, topic in facts:
        c = indexed(envelope.data)
        records.append(
            (
                envelope.id,
                envelope.type,
                topic,
                envelope.source,
                envelope.time,
                envelope.subject,
                c.lead_id,
                c.firm_id,
                c.account_id,
                c.owner_id,
                c.channel,
                c.campaign,
                to_json(envelope.data).decode(),
            )
        )
    return records


async def ceiling_rate(
    conn: asyncpg.Connection, records: list[tuple[Any, ...]], batch: int
) -> float:
    """Rows/s of bare binary COPY into the table's copy, a transaction per batch."""
    started = time.perf_counter()
    for start in range(0, len(records), batch):
        async with conn.transaction():
            await conn.copy_records_to_table(
                "event_log",
                schema_name="bench_ceiling",
                columns=COLUMNS,
                records=records[start : start + batch],
            )
    return len(records) / (time.perf_counter() - started)


async def bench(
    database_url: str, events: int, runs: int, batch: int, *, profile: bool, firms_only: bool
) -> None:
    engine = make_engine(database_url, pool_size=2)
    sessions = make_sessions(engine)
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute("CREATE SCHEMA bench_ceiling")
        await conn.execute(f"CREATE TABLE {CEILING} (LIKE {SCHEMA}.event_log INCLUDING ALL)")
        warm = event_stream(-1, 2 * batch, firms_only)  # warm up (imports, caches, pool)
        await record_events(sessions, warm, batch)
        await ceiling_rate(conn, ceiling_records(warm), batch)
        heap.settle()  # as the service does once started
        ours, ceiling = [], []
        for run in range(runs):
            facts = event_stream(run, events, firms_only)
            await conn.execute(f"ANALYZE {SCHEMA}.event_log, {CEILING}")  # the history's stats
            ours.append(await record_events(sessions, facts, batch))
            ceiling.append(await ceiling_rate(conn, ceiling_records(facts), batch))
        if profile:
            facts = event_stream(runs, events, firms_only)
            await conn.execute(f"ANALYZE {SCHEMA}.event_log, {CEILING}")
            profiler = cProfile.Profile()
            profiler.enable()
            await record_events(sessions, facts, batch)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    finally:
        await conn.close()
        await engine.dispose()
    ratio = [o / c for o, c in zip(ours, ceiling, strict=True)]
    print_runs(
        f"ops consumer: {events} events per run, {batch} per transaction"
        + (", firms' leads only" if firms_only else ""),
        [
            ("logged events/s", ours, "{:.0f}"),
            ("ceiling: asyncpg COPY rows/s", ceiling, "{:.0f}"),
            ("logged / ceiling", ratio, "{:.3f}"),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=200, help="events per transaction")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--firms-only", action="store_true", help="every lead a firm's (few NULL firms/accounts)"
    )
    args = parser.parse_args()
    with migrated_database(["ops"]) as url:
        asyncio.run(
            bench(
                url,
                args.events,
                args.runs,
                args.batch,
                profile=args.profile,
                firms_only=args.firms_only,
            )
        )


if __name__ == "__main__":
    main()
