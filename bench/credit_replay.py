"""Facts per second through ``leadflow credit replay``, against reading the same topics alone.

    .venv/bin/python -m bench.credit_replay [--leads 40000] [--runs 1]

Starts its own embedded PostgreSQL (credit migrated, one firm under the default contract)
and broker (topics as ``leadflow up`` makes them), publishes the facts of ``--leads``
leads to their topics (``bench.credit_consumer.lead_facts``: every lead received and
routed to the firm's account, every fifth touched a day back, every tenth a meeting booked
and held: ~2.3 facts a lead), then per run times ``services.credit.replay.replay`` — read
every fact topic from the start, empty credit's state, decide every lead again a chunk at
a time, sweep — in this process, and its peak resident memory (``VmHWM``, reset as the run
starts). The ceiling, measured in the same run: the topics read and every event parsed
(``read_topics``, ``Envelope.from_bytes``) with nothing kept or decided. Medians of the
runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from bench.credit_consumer import FIRM, lead_facts
from bench.harness import migrated_database, print_runs
from bench.live_during_import import peak_rss_mb, reset_peak_rss
from services.credit import store
from services.credit.app import FACT_TOPICS
from services.credit.domain.contract import Terms
from services.credit.replay import read_topics, replay
from shared.db import make_engine, make_sessions
from shared.embedded import EmbeddedKafka, embedded_broker_settings
from shared.events.activities import ActivityLogged, MeetingUpdated
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from shared.events.routing import LeadRouted
from shared.events.topics import ACTIVITIES_LOGGED, LEADS_RECEIVED, LEADS_ROUTED, MEETINGS_UPDATED
from shared.kafka import ensure_topics, make_producer
from shared.settings import Settings

TOPIC_OF = {
    LeadReceived.event_type: LEADS_RECEIVED.name,
    LeadRouted.event_type: LEADS_ROUTED.name,
    ActivityLogged.event_type: ACTIVITIES_LOGGED.name,
    MeetingUpdated.event_type: MEETINGS_UPDATED.name,
}


async def publish(settings: Settings, leads: int) -> int:
    """The leads' facts on their topics; how many."""
    producer = make_producer(settings, client_id="bench-replay")
    await producer.start()
    sent = 0
    try:
        pending = []
        for i in range(leads):
            for envelope in lead_facts(0, i):
                pending.append(
                    await producer.send(
                        TOPIC_OF[envelope.type],
                        envelope.to_bytes(),
                        key=envelope.partitionkey.encode(),
                    )
                )
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                sent += len(pending)
                pending = []
        await asyncio.gather(*pending)
        sent += len(pending)
    finally:
        await producer.stop()
    return sent


async def bench(settings: Settings, leads: int, runs: int) -> None:
    engine = make_engine(settings.database_url or "", pool_size=1)
    try:
        async with make_sessions(engine)() as session, session.begin():
            await store.add_contract(session, FIRM, Terms(acceptance_business_days=0))
    finally:
        await engine.dispose()
    await ensure_topics(settings)
    started = time.perf_counter()
    facts = await publish(settings, leads)
    print(f"published {facts} facts of {leads} leads in {time.perf_counter() - started:.0f} s")
    topics = [t.name for t in FACT_TOPICS]
    rates, ceilings, peaks, decided = [], [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        read = 0
        async for values in read_topics(settings, topics):
            read += len([Envelope.from_bytes(raw) for raw in values])
        ceilings.append(read / (time.perf_counter() - started))
        reset_peak_rss(os.getpid())
        started = time.perf_counter()
        report = await replay(settings)
        rates.append(report.applied / (time.perf_counter() - started))
        peaks.append(peak_rss_mb(os.getpid()))
        decided.append(float(report.leads))
    print_runs(
        f"credit replay: {facts} facts of {leads} leads",
        [
            ("replayed facts/s", rates, "{:.0f}"),
            ("leads decided", decided, "{:.0f}"),
            ("ceiling: facts read and parsed/s", ceilings, "{:.0f}"),
            ("replay / reading", [r / c for r, c in zip(rates, ceilings, strict=True)], "{:.3f}"),
            ("peak resident MB during the replay", peaks, "{:.0f}"),
        ],
        markdown=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=40_000, help="~2.3 facts each")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    with (
        migrated_database(["credit"]) as url,
        tempfile.TemporaryDirectory() as work,
    ):
        kafka = EmbeddedKafka(log_path=Path(work) / "broker.log").start()
        try:
            settings = Settings(
                database_url=url,
                kafka_bootstrap_servers=kafka.bootstrap_servers,
                **embedded_broker_settings(),  # type: ignore[arg-type]
            )
            asyncio.run(bench(settings, args.leads, args.runs))
        finally:
            kafka.stop()


if __name__ == "__main__":
    main()
