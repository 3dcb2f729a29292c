"""``make bench``: the lead pipeline, end to end, against ceilings measured in the same run.

Starts its own embedded PostgreSQL and broker and the three services (as ``make test``
does), then for each run:
- sends N leads with C concurrent clients to intake (``POST /v1/leads``): accepted/s;
- times each lead from its POST to its ``lead.routed`` and ``credit.decided`` events,
  read from the topics over the Kafka protocol: p50/p95/p99, both flat out (where the
  backlog sets the latency) and paced at a steady rate below saturation;
- measures the ceilings: a bare uvicorn endpoint doing no work, and raw asyncpg inserts
  of the same rows (one transaction each), and prints intake's rate as a ratio to them.
Medians of the runs are reported (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.ceilings import bare_uvicorn_rate, drive, raw_insert_rate
from services.stack import load_demo
from shared.events.envelope import Envelope
from tests.support.infra import start_infra
from tests.support.stack import Stack, run_stack

DOMAINS = ["walmart.com", "initech.com", "globex.com", "gmail.com", "example.org"]


def payloads(n: int, run: int) -> list[dict[str, str]]:
    return [
        {
            "email": f"person{run}x{i}@{DOMAINS[i % len(DOMAINS)]}",
            "name": f"Person {i}",
            "company": "Bench Co",
            "title": "Director of IT",
            "phone": "+1 415 555 0100",
            "country": "US",
            "source": "bench",
            "campaign": f"bench-{run}",
        }
        for i in range(n)
    ]


@dataclass
class RunResult:
    accepted_per_s: float
    routed_ms: list[float]
    credited_ms: list[float]
    paced_routed_ms: list[float]
    paced_credited_ms: list[float]
    bare_per_s: float
    raw_insert_per_s: float


class TopicClock:
    """Notes when each lead's event first appears on a topic (from the end, live)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20
        )
        self.seen: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        parts = [
            TopicPartition(self.topic, p)
            for p in self.consumer.partitions_for_topic(self.topic) or []
        ]
        self.consumer.assign(parts)
        await self.consumer.seek_to_end(*parts)
        for tp in parts:  # resolve the end offsets now, before any lead is sent
            await self.consumer.position(tp)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for messages in batches.values():
                for message in messages:
                    lead_id = Envelope.from_bytes(message.value or b"{}").data["lead_id"]
                    self.seen.setdefault(lead_id, now)

    async def wait_for(self, lead_ids: set[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not lead_ids <= self.seen.keys() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self.consumer.stop()


async def send_and_time(
    stack: Stack, leads: list[dict[str, str]], concurrency: int, pace_per_s: float | None
) -> tuple[float, list[float], list[float]]:
    """Send the leads (flat out, or paced) and time each to its routed/credited events.
    Returns (accepted per second, POST→routed ms, POST→credited ms)."""
    bootstrap = stack.infra.bootstrap_servers
    routed = TopicClock(bootstrap, "leads.routed")
    credited = TopicClock(bootstrap, "credits.decided")
    await routed.start()
    await credited.start()
    posted: dict[str, float] = {}
    url = f"{stack.urls['intake']}/v1/leads"
    limits = httpx.Limits(max_connections=concurrency)
    try:
        async with httpx.AsyncClient(timeout=30, limits=limits, headers=stack.auth) as client:

            async def one(i: int) -> None:
                if pace_per_s:
                    await asyncio.sleep(max(0.0, begin + i / pace_per_s - time.perf_counter()))
                started = time.perf_counter()
                answer = await client.post(url, json=leads[i])
                answer.raise_for_status()
                posted[answer.json()["lead_id"]] = started

            begin = time.perf_counter()
            accepted = await drive(len(leads), concurrency, one)
        await credited.wait_for(set(posted), timeout_s=180)
        await routed.wait_for(set(posted), timeout_s=5)
    finally:
        await routed.stop()
        await credited.stop()
    missing = set(posted) - credited.seen.keys()
    if missing:
        raise RuntimeError(f"{len(missing)} leads never got a credit decision")
    return (
        accepted,
        [(routed.seen[i] - t) * 1000 for i, t in posted.items()],
        [(credited.seen[i] - t) * 1000 for i, t in posted.items()],
    )


async def one_run(stack: Stack, run: int, n: int, concurrency: int, pace: float) -> RunResult:
    accepted, routed_ms, credited_ms = await send_and_time(
        stack, payloads(n, run), concurrency, None
    )
    _, paced_routed, paced_credited = await send_and_time(
        stack, payloads(int(pace * 10), 1000 + run), concurrency, pace
    )
    leads = payloads(n, 2000 + run)
    return RunResult(
        accepted_per_s=accepted,
        routed_ms=routed_ms,
        credited_ms=credited_ms,
        paced_routed_ms=paced_routed,
        paced_credited_ms=paced_credited,
        bare_per_s=await bare_uvicorn_rate(leads, concurrency),
        raw_insert_per_s=await raw_insert_rate(stack.infra.database_url, leads, concurrency),
    )


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def report(results: list[RunResult], n: int, concurrency: int, pace: float) -> str:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    rows: list[tuple[str, list[float], str]] = [
        ("intake accepted leads/s", [r.accepted_per_s for r in results], "{:.0f}"),
        ("ceiling: bare uvicorn req/s", [r.bare_per_s for r in results], "{:.0f}"),
        ("ceiling: raw asyncpg inserts/s", [r.raw_insert_per_s for r in results], "{:.0f}"),
        ("intake / bare uvicorn", [r.accepted_per_s / r.bare_per_s for r in results], "{:.2f}"),
        (
            "intake / raw inserts",
            [r.accepted_per_s / r.raw_insert_per_s for r in results],
            "{:.2f}",
        ),
    ]
    for label, attr in (
        ("flat out: POST → lead.routed", "routed_ms"),
        ("flat out: POST → credit.decided", "credited_ms"),
        (f"at {pace:g}/s: POST → lead.routed", "paced_routed_ms"),
        (f"at {pace:g}/s: POST → credit.decided", "paced_credited_ms"),
    ):
        for p in (50, 95, 99):
            rows.append((f"{label} p{p} ms", [pct(getattr(r, attr), p) for r in results], "{:.0f}"))
    header = "| metric | " + " | ".join(f"run {i + 1}" for i in range(len(results))) + " | median |"
    lines = [
        f"{n} leads per run flat out and {pace * 10:g} paced at {pace:g}/s, "
        f"{concurrency} concurrent clients, {len(results)} runs",
        "",
        header,
        "|" + "---|" * (len(results) + 2),
    ]
    for label, values, fmt in rows:
        cells = " | ".join(fmt.format(v) for v in values)
        lines.append(f"| {label} | {cells} | {fmt.format(med(values))} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pace", type=float, default=20, help="leads/s of the paced phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-") as tmp:
        work = Path(tmp)
        with start_infra(work) as infra:
            asyncio.run(load_demo(infra.database_url))
            (work / "logs").mkdir()
            with run_stack(infra, work / "logs") as stack:
                asyncio.run(send_and_time(stack, payloads(200, -1), args.concurrency, None))
                results = [
                    asyncio.run(one_run(stack, run, args.leads, args.concurrency, args.pace))
                    for run in range(args.runs)
                ]
    print(report(results, args.leads, args.concurrency, args.pace))


if __name__ == "__main__":
    main()
