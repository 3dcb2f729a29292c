"""``python -m bench.live_during_import``: a live lead posted while a 100,000-row CSV import
is being registered and consumed — is it routed and credit-decided within 1 s (p99)?

Starts its own embedded PostgreSQL and broker and the four services as real processes
(``bench.stack``), as ``bench.intake_http`` does. A CSV import's leads go on the bulk lane
(``leads.received.bulk``, then ``leads.routed.bulk``); a lead posted to ``POST /v1/leads``
goes on the live lane, which the consumers poll first (``shared.consumer``: a live event
waits behind at most the one bulk batch in hand). Each run:

- control: ``--live`` leads posted one every ``--interval`` s with no import running, from
  a quiet pipeline (every lead decided and every consumer's lag 0 in its ``/metrics``);
- loaded: the CSV import of ``--rows`` rows (every email new) uploaded to
  ``POST /v1/imports`` and followed to its end (``bench.intake_channels.import_rate``),
  and from ``--lead-in`` s after the upload the same ``--live`` leads posted the same way
  while the import is registered and its leads routed and decided; then the wait until
  every import lead has its ``credit.decided`` event.

A live lead's latency runs from the moment its POST is sent to the first sight of its
``lead.routed`` and ``credit.decided`` events on the topics (``bench.pipeline_watch``,
read as a neighbouring service would); to tell where it waited, also to its
``lead.received`` on the topic (intake's outbox relay) and to the router taking it up
(``decided_at`` of its first routing decision: the router's clock as its batch handler
began, before the router's own outbox relay). The live leads use the five domains of
``bench/leads.lua``, accounts some of which a firm holds; credit decides every lead,
``not_eligible`` (``firm.assignment``) when no firm holds its account, so each has a
``credit.decided`` event. To show that the live leads really met a backlog, the table
gives how long the bulk lane took to drain (the upload to the last import lead's
``lead.routed`` and ``credit.decided``), when the live leads were posted, how many were
posted before the last import lead was routed, and how many import leads were registered
and not yet routed at each live POST. Also: the import's rows/s, each service's peak
resident memory over the loaded phase (``VmHWM`` of ``/proc/<pid>/status``, reset through
``clear_refs`` as the phase starts), and each process's share of the CPU in both phases.
The ceiling is the control: the loaded/idle ratio of the p99s.

With 60 live leads a run's p99 is its slowest lead (nearest rank); the median is over
``--runs``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from bisect import bisect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.cpu import CpuSample, sample
from bench.harness import Figure, print_runs
from bench.intake_channels import csv_rows, import_rate
from bench.intake_figures import pct
from bench.pipeline_watch import PipelineWatch, say
from bench.stack import Infra, Services, bench_work, embedded_infra
from shared.events.topics import CREDITS_DECIDED, LEADS_RECEIVED, LEADS_ROUTED, LEADS_ROUTED_BULK

ROUTED = (LEADS_ROUTED.name, LEADS_ROUTED_BULK.name)
DECIDED = CREDITS_DECIDED.name
RECEIVED = LEADS_RECEIVED.name  # the live lane only: intake's relay published the lead
DOMAINS = ("walmart.com", "initech.com", "globex.com", "gmail.com", "example.org")  # leads.lua's
SERVICES_CPU = ("intake", "router", "credit", "ops")
OTHERS_CPU = ("postgres", "broker", "bench client")
LAG_METRIC = "leadflow_consumer_lag{"
LAG_REFRESH_S = 6  # the consumers refresh their lag gauge every 5 s
TARGET_MS = 1000
WARM_RUN = 999  # csv_rows' run number for the warm-up import (never a run's)


@dataclass(frozen=True)
class Options:
    rows: int
    live: int
    interval_s: float
    lead_in_s: float
    drain_timeout_s: float


@dataclass(frozen=True)
class Posted:
    lead_id: str
    sent: float  # wall clock, when the POST was sent
    answered_ms: float


@dataclass(frozen=True)
class Live:
    """The live leads of a phase."""

    posted: list[Posted]
    received_ms: list[float]  # POST sent -> lead.received read (intake's outbox relay)
    handled_ms: list[float]  # POST sent -> the router's decided_at (its handler began)
    routed_ms: list[float]  # POST sent -> lead.routed read
    decided_ms: list[float]  # POST sent -> credit.decided read
    on_bulk_lane: int  # live leads routed on leads.routed.bulk (0 expected)
    cpu: dict[str, float]  # percent of a core over the phase


@dataclass(frozen=True)
class Import:
    rows_per_s: float
    import_s: float  # upload -> the job completed
    routed_s: float  # upload -> the last import lead's lead.routed
    decided_s: float  # upload -> the last import lead's credit.decided
    first_post_s: float  # upload -> the first live POST
    last_post_s: float
    posted_in_backlog: int  # live leads posted before the last import lead was routed
    waiting: list[int]  # import leads registered and not yet routed, at each live POST
    on_live_lane: int  # import leads routed on leads.routed (0 expected)
    peak_rss_mb: dict[str, float]
    peaks_reset: bool  # False: VmHWM since the process started (clear_refs refused)
    cpu: dict[str, float]  # percent of a core, upload to the last decision


@dataclass(frozen=True)
class RunResult:
    load_1min: float
    idle: Live
    loaded: Live
    bulk: Import


def live_lead(campaign: str, i: int) -> dict[str, str]:
    return {
        "email": f"{campaign}-{i}@{DOMAINS[i % len(DOMAINS)]}",
        "name": f"Person {i}",
        "company": "Bench Co",
        "title": "Director of IT",
        "phone": "+1 415 555 0100",
        "country": "US",
        "source": "bench",
        "campaign": campaign,
    }


def reset_peak_rss(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux ``clear_refs`` 5)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Bench:
    def __init__(self, infra: Infra, options: Options, work: Path) -> None:
        self.infra = infra
        self.options = options
        self.logs = work / "logs"
        self.logs.mkdir(exist_ok=True)
        self.services = Services({**os.environ, **infra.env()}, self.logs)
        self.watch = PipelineWatch(
            infra.database_url,
            infra.bootstrap_servers,
            DECIDED,
            RECEIVED,
            *ROUTED,
            drain_timeout_s=options.drain_timeout_s,
        )
        self.auth = {"Authorization": f"Bearer {infra.token}"}
        self.warnings: list[str] = []

    async def __aenter__(self) -> Bench:
        await self.watch.start()
        await self.services.start_all()
        say("warming up: a few live leads and a small import")
        await self.post_live("warm", time.monotonic(), count=10, interval_s=0.2)
        await import_rate(
            self.services.url("intake"),
            self.auth,
            csv_rows(500, WARM_RUN),
            campaign=self.watch.campaign("warm-import"),
        )
        await self.quiet()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.services.stop_all()
        await self.watch.stop()

    def cpu(self) -> CpuSample:
        pids = {**self.services.pids(), **self.infra.pids()}
        return sample(pids, trees=frozenset({"postgres"}))

    async def consumer_lag(self, client: httpx.AsyncClient) -> float:
        """Every consumer's lag, summed over the services (their ``/metrics``)."""
        total = 0.0
        for name in SERVICES_CPU:
            text = (await client.get(f"{self.services.url(name)}/metrics")).text
            total += sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith(LAG_METRIC)
            )
        return total

    async def quiet(self) -> None:
        """Every lead decided, then every consumer caught up (ops stores every event of
        an import too, after credit has decided them): lag 0 at two readings of the
        gauge in a row."""
        await self.watch.settle()
        started = time.monotonic()
        zeros = 0  # readings of 0 in a row
        async with httpx.AsyncClient(timeout=10) as client:
            while zeros < 2:
                if time.monotonic() - started > self.options.drain_timeout_s:
                    self.warnings.append("the consumers' lag never reached 0 before a phase")
                    return
                zeros = zeros + 1 if await self.consumer_lag(client) == 0 else 0
                await asyncio.sleep(LAG_REFRESH_S)
        waited = time.monotonic() - started
        if waited > 2 * LAG_REFRESH_S + 1:
            say(f"  the consumers caught up {waited:.0f} s after the last credit decision")

    async def post_live(
        self, tag: str, start: float, *, count: int | None = None, interval_s: float | None = None
    ) -> list[Posted]:
        """``count`` live leads, the i-th sent at ``start + i * interval_s`` (monotonic)
        or at once if the previous answer came later."""
        count = self.options.live if count is None else count
        interval = self.options.interval_s if interval_s is None else interval_s
        campaign = self.watch.campaign(tag)
        url = f"{self.services.url('intake')}/v1/leads"
        posted = []
        async with httpx.AsyncClient(timeout=30, headers=self.auth) as client:
            for i in range(count):
                await asyncio.sleep(max(0.0, start + i * interval - time.monotonic()))
                sent = time.time()
                answer = await client.post(url, json=live_lead(campaign, i))
                answered = time.time()
                answer.raise_for_status()
                accepted: dict[str, Any] = answer.json()
                if accepted["duplicate"]:
                    raise RuntimeError(f"live lead {i} of {tag} was taken for a repeat")
                posted.append(Posted(accepted["lead_id"], sent, 1000 * (answered - sent)))
        return posted

    async def taken_up(self, lead_ids: list[str]) -> dict[str, float]:
        """When the router took each lead up: its first routing decision's ``decided_at``
        (the router's clock as its batch handler began, before its outbox relay)."""
        assert self.watch.db is not None
        rows = await self.watch.db.fetch(
            "SELECT lead_id::text, decided_at FROM router.routing_decisions "
            "WHERE revision = 1 AND lead_id = ANY($1::uuid[])",
            lead_ids,
        )
        return {r["lead_id"]: r["decided_at"].timestamp() for r in rows}

    async def live_latencies(self, posted: list[Posted], before: CpuSample) -> Live:
        ids = [p.lead_id for p in posted]
        await self.watch.until_seen(ids, DECIDED)
        await self.watch.until_seen(ids, *ROUTED)
        await self.watch.until_seen(ids, RECEIVED)
        handled = await self.taken_up(ids)
        received, routed, decided = [], [], []
        for p in posted:
            received.append(1000 * (self.watch.seen[RECEIVED][p.lead_id] - p.sent))
            routed_at = self.watch.first_seen(p.lead_id, *ROUTED)
            assert routed_at is not None
            routed.append(1000 * (routed_at - p.sent))
            decided.append(1000 * (self.watch.credited[p.lead_id] - p.sent))
        on_bulk = sum(i in self.watch.seen[LEADS_ROUTED_BULK.name] for i in ids)
        handled_ms = [1000 * (handled[p.lead_id] - p.sent) for p in posted]
        return Live(
            posted, received, handled_ms, routed, decided, on_bulk, self.cpu().shares_since(before)
        )

    async def control(self, run: int) -> Live:
        await self.quiet()
        before = self.cpu()
        posted = await self.post_live(f"r{run}-idle", time.monotonic())
        live = await self.live_latencies(posted, before)
        say(f"  control: {_summary(live)}")
        return live

    async def loaded(self, run: int) -> tuple[Live, Import]:
        opts = self.options
        await self.quiet()
        tag = f"r{run}-import"
        rows = csv_rows(opts.rows, run)
        pids = self.services.pids()
        resets = [reset_peak_rss(pid) for pid in pids.values()]
        before = self.cpu()
        upload, uploaded = time.monotonic(), time.time()
        importing = asyncio.create_task(
            import_rate(
                self.services.url("intake"), self.auth, rows, campaign=self.watch.campaign(tag)
            )
        )
        try:
            posted = await self.post_live(f"r{run}-live", upload + opts.lead_in_s)
            rate = await importing
        finally:
            importing.cancel()
        say(f"  import: {rate:.0f} rows/s; the live leads posted, waiting for their decisions")
        live = await self.live_latencies(posted, before)
        say(f"  loaded: {_summary(live)}")
        bulk = await self.watch.leads_of(tag)
        if len(bulk) != opts.rows:
            raise RuntimeError(f"{len(bulk)} import leads registered of {opts.rows}")
        await self.watch.until_seen(bulk, DECIDED)
        await self.watch.until_seen(bulk, *ROUTED)
        cpu = self.cpu().shares_since(before)
        peaks = {name: peak_rss_mb(pid) for name, pid in pids.items()}
        routed_at = {i: self.watch.first_seen(i, *ROUTED) or 0.0 for i in bulk}
        last_routed = max(routed_at.values())
        last_decided = max(self.watch.credited[i] for i in bulk)
        registered, routed = sorted(bulk.values()), sorted(routed_at.values())
        result = Import(
            rows_per_s=rate,
            import_s=opts.rows / rate,
            routed_s=last_routed - uploaded,
            decided_s=last_decided - uploaded,
            first_post_s=posted[0].sent - uploaded,
            last_post_s=posted[-1].sent - uploaded,
            posted_in_backlog=sum(p.sent < last_routed for p in posted),
            waiting=[bisect(registered, p.sent) - bisect(routed, p.sent) for p in posted],
            on_live_lane=sum(i in self.watch.seen[LEADS_ROUTED.name] for i in bulk),
            peak_rss_mb=peaks,
            peaks_reset=all(resets),
            cpu=cpu,
        )
        say(
            f"  bulk lane: last import lead routed {result.routed_s:.1f} s and decided "
            f"{result.decided_s:.1f} s after the upload; live POSTs {result.first_post_s:.1f}"
            f"-{result.last_post_s:.1f} s, {result.posted_in_backlog} of {len(posted)} "
            f"before the last import lead was routed"
        )
        return live, result

    async def run(self, run: int) -> RunResult:
        load_1min = os.getloadavg()[0]
        say(f"run {run + 1}: load average {load_1min:.2f}")
        idle = await self.control(run)
        loaded, bulk = await self.loaded(run)
        crossed = idle.on_bulk_lane + loaded.on_bulk_lane
        if crossed or bulk.on_live_lane:
            self.warnings.append(
                f"run {run + 1}: {crossed} live leads routed on the bulk lane, "
                f"{bulk.on_live_lane} import leads on the live lane"
            )
        return RunResult(load_1min, idle, loaded, bulk)


def _summary(live: Live) -> str:
    return (
        f"POST → routed p50 {pct(live.routed_ms, 50):.0f} p99 {pct(live.routed_ms, 99):.0f} ms, "
        f"→ decided p50 {pct(live.decided_ms, 50):.0f} p99 {pct(live.decided_ms, 99):.0f} ms"
    )


def _quantiles(values: list[float]) -> tuple[float, ...]:
    return (pct(values, 50), pct(values, 95), pct(values, 99), max(values))


def _answered(live: Live) -> list[float]:
    return [p.answered_ms for p in live.posted]


def _shares(cpu: dict[str, float], names: tuple[str, ...]) -> tuple[float, ...]:
    return tuple(cpu[n] for n in names)


def _live_rows(label: str, results: list[Live]) -> list[tuple[str, list[Figure], str]]:
    return [
        (
            f"{label}: POST answered p50 / p99 ms",
            [(pct(a, 50), pct(a, 99)) for a in (_answered(r) for r in results)],
            "{:.0f}",
        ),
        (
            "  POST → lead.received p50 / p95 / p99 / max ms",
            [_quantiles(r.received_ms) for r in results],
            "{:.0f}",
        ),
        (
            "  POST → the router took it up (its decided_at) p50 / p95 / p99 / max ms",
            [_quantiles(r.handled_ms) for r in results],
            "{:.0f}",
        ),
        (
            "  POST → lead.routed p50 / p95 / p99 / max ms",
            [_quantiles(r.routed_ms) for r in results],
            "{:.0f}",
        ),
        (
            "  POST → credit.decided p50 / p95 / p99 / max ms",
            [_quantiles(r.decided_ms) for r in results],
            "{:.0f}",
        ),
        (
            f"  decided within {TARGET_MS} ms, % of live leads",
            [100 * sum(d <= TARGET_MS for d in r.decided_ms) / len(r.decided_ms) for r in results],
            "{:.0f}",
        ),
        (
            "  CPU % of a core: intake / router / credit / ops",
            [_shares(r.cpu, SERVICES_CPU) for r in results],
            "{:.0f}",
        ),
        (
            "  postgres / broker / bench client",
            [_shares(r.cpu, OTHERS_CPU) for r in results],
            "{:.0f}",
        ),
    ]


def report(results: list[RunResult], opts: Options, *, durable: bool, markdown: bool) -> None:
    bulk = [r.bulk for r in results]
    rows: list[tuple[str, list[Figure], str]] = [
        ("load average (1 min) at start", [r.load_1min for r in results], "{:.2f}"),
        ("CSV import: rows/s (upload → job completed)", [b.rows_per_s for b in bulk], "{:.0f}"),
        ("  job completed, s after the upload", [b.import_s for b in bulk], "{:.1f}"),
        ("  last import lead routed, s after the upload", [b.routed_s for b in bulk], "{:.1f}"),
        ("  last import lead decided, s after the upload", [b.decided_s for b in bulk], "{:.1f}"),
        (
            "  live POSTs: first / last, s after the upload",
            [(b.first_post_s, b.last_post_s) for b in bulk],
            "{:.1f}",
        ),
        (
            f"  live leads posted before the last import lead was routed (of {opts.live})",
            [float(b.posted_in_backlog) for b in bulk],
            "{:.0f}",
        ),
        (
            "  import leads waiting to be routed at a live POST: min / median / max",
            [(min(b.waiting), statistics.median(b.waiting), max(b.waiting)) for b in bulk],
            "{:.0f}",
        ),
    ]
    rows += _live_rows("during the import", [r.loaded for r in results])
    rows += _live_rows("control, no import", [r.idle for r in results])
    rows += [
        (
            "during / control, p99: lead.routed / credit.decided",
            [
                (
                    pct(r.loaded.routed_ms, 99) / pct(r.idle.routed_ms, 99),
                    pct(r.loaded.decided_ms, 99) / pct(r.idle.decided_ms, 99),
                )
                for r in results
            ],
            "{:.2f}",
        ),
        (
            "peak RSS MB over the import and its drain: intake / router / credit / ops"
            + ("" if all(b.peaks_reset for b in bulk) else " (since start: no clear_refs)"),
            [_shares(b.peak_rss_mb, SERVICES_CPU) for b in bulk],
            "{:.0f}",
        ),
        (
            "CPU % of a core, upload → last decision: intake / router / credit / ops",
            [_shares(b.cpu, SERVICES_CPU) for b in bulk],
            "{:.0f}",
        ),
        (
            "  postgres / broker / bench client",
            [_shares(b.cpu, OTHERS_CPU) for b in bulk],
            "{:.0f}",
        ),
    ]
    title = (
        f"a live lead during a {opts.rows:,}-row CSV import: {opts.live} live leads one every "
        f"{opts.interval_s:g} s from {opts.lead_in_s:g} s after the upload, against the same "
        f"with no import; {len(results)} runs, PostgreSQL "
        f"{'durable' if durable else 'fsync off'}, {os.cpu_count()} cores"
    )
    print_runs(title, rows, markdown=markdown)
    decided_p99 = statistics.median(pct(r.loaded.decided_ms, 99) for r in results)
    verdict = "within" if decided_p99 <= TARGET_MS else "NOT within"
    print(
        f"\nlive POST → credit.decided p99 during the import (median of runs): "
        f"{decided_p99:.0f} ms, {verdict} {TARGET_MS} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="CSV rows per import")
    parser.add_argument("--live", type=int, default=60, help="live leads per phase")
    parser.add_argument("--interval", type=float, default=1.0, help="s between live leads")
    parser.add_argument("--lead-in", type=float, default=2.0, help="s from upload to 1st lead")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--drain-timeout", type=float, default=1800, help="seconds")
    parser.add_argument("--durable", action="store_true", help="PostgreSQL with fsync on")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument(
        "--logs", type=Path, help="keep the services' logs here (kept anyway on failure)"
    )
    args = parser.parse_args()
    if args.live < 1 or args.rows < 1:
        parser.error("--live and --rows must be at least 1")
    opts = Options(args.rows, args.live, args.interval, args.lead_in, args.drain_timeout)

    async def measure(infra: Infra, work: Path) -> tuple[list[RunResult], list[str]]:
        async with Bench(infra, opts, work) as bench:
            results = []
            for run in range(args.runs):
                results.append(await bench.run(run))
                say(f"run {run + 1} of {args.runs} done")
            return results, bench.warnings

    with bench_work(args.logs) as work, embedded_infra(work, durable=args.durable) as infra:
        results, warnings = asyncio.run(measure(infra, work))
    report(results, opts, durable=args.durable, markdown=args.markdown)
    for warning in warnings:
        print(f"warning: {warning}")


if __name__ == "__main__":
    main()
