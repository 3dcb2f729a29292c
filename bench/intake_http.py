"""``python -m bench.intake_http`` (``make bench``): intake's ``POST /v1/leads`` with the
whole pipeline running, driven by wrk, against ceilings measured in the same run with the
same client.

Starts its own embedded PostgreSQL and broker and the four services as real processes
(``bench.stack``); every request is a new lead (``leads.lua``: a new email each). Each run:

- ceilings, same wrk settings: a bare uvicorn endpoint doing no work, and a raw-asyncpg
  app committing the lead row and its outbox row per request (``bench.ceilings``);
- intake flat out, with its edges and without them (``bench.intake_launcher``; the
  order alternates between runs), each from an idle pipeline; after the first, the time
  until every lead it accepted has its ``credit.decided`` event on the topic: the
  pipeline's sustained leads/s from the first POST to the last decision, and which
  process used the CPU meanwhile (``bench.cpu``);
- intake paced at ``--rate`` (500/s) for its latency;
- a paced ``--e2e-rate`` (100/s): each lead from its registration (``received_at``) to
  its ``lead.routed`` and ``credit.decided`` events, read from the topics as they come.

Before each intake phase the pipeline is let drain (every lead so far decided), so each
starts from the same idle state. Figures per run and the median of ``--runs``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

from bench.cpu import CpuSample, sample
from bench.intake_figures import EndToEnd, Options, Phase, Pipeline, RunResult, report
from bench.pipeline_watch import PipelineWatch, say
from bench.stack import Infra, Services, bench_work, ceiling_server, embedded_infra
from bench.tools import require_wrk
from bench.wrk import WrkResult, run_wrk
from shared.events.topics import CREDITS_DECIDED, LEADS_ROUTED


class Bench:
    def __init__(self, infra: Infra, wrk: str, options: Options, work: Path) -> None:
        self.infra = infra
        self.wrk = wrk
        self.options = options
        self.logs = work / "logs"
        self.logs.mkdir(exist_ok=True)
        self.services = Services({**os.environ, **infra.env()}, self.logs)
        self.watch = PipelineWatch(
            infra.database_url,
            infra.bootstrap_servers,
            CREDITS_DECIDED.name,
            LEADS_ROUTED.name,
            drain_timeout_s=options.drain_timeout_s,
        )
        self.credited = self.watch.credited
        self.routed = self.watch.seen[LEADS_ROUTED.name]
        self.warnings: list[str] = []

    async def __aenter__(self) -> Bench:
        await self.watch.start()
        await self.services.start_all()
        await self.warm_intake("warm", self.options.duration_s)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.services.stop_all()
        await self.watch.stop()

    async def load(
        self,
        url: str,
        tag: str,
        *,
        connections: int | None = None,
        duration_s: float | None = None,
        rate: float = 0,
    ) -> WrkResult:
        result = await run_wrk(
            self.wrk,
            url,
            tag=self.watch.campaign(tag),
            token=self.infra.token,
            threads=self.options.threads,
            connections=connections or self.options.connections,
            duration_s=duration_s or self.options.duration_s,
            rate=rate,
            log_dir=self.logs,
        )
        say(
            f"  {tag}: {result.accepted_per_s:.0f}/s accepted, p50 {result.p50_ms:.1f} "
            f"p99 {result.p99_ms:.1f} ms, non-2xx {result.non2xx}"
            + (f", behind schedule up to {result.max_lag_ms:.0f} ms" if rate else "")
        )
        if result.non2xx or result.socket_errors:
            self.warnings.append(
                f"{tag}: {result.non2xx} answers over 399, {result.socket_errors} socket errors"
                f" of {result.requests} (see {self.logs}/wrk-{self.watch.campaign(tag)}.log)"
            )
        return result

    async def warm_intake(self, tag: str, duration_s: float) -> None:
        """A fresh intake process warms up (pool, statement caches) before it is measured."""
        await self.load(f"{self.services.url('intake')}/v1/leads", tag, duration_s=duration_s)
        await self.watch.settle()

    def cpu(self, **servers: int) -> CpuSample:
        """CPU seconds so far of every process of the stack (and of ``servers``)."""
        pids = {**self.services.pids(), **self.infra.pids(), **servers}
        return sample(pids, trees=frozenset({"postgres"}))

    async def flat_out(self, url: str, tag: str, pid: int) -> tuple[Phase, CpuSample]:
        """Returns the phase and the CPU sample taken before it."""
        before = self.cpu(server=pid)
        result = await self.load(f"{url}/v1/leads", tag)
        spent = self.cpu(server=pid).seconds_since(before, "server")
        accepted = max(1, result.requests - result.non2xx)
        return Phase(result, 1000 * spent / accepted), before

    async def ceiling(self, kind: str, run: int) -> Phase:
        env = {**os.environ, **self.infra.env()}
        async with ceiling_server(kind, env, self.logs) as (url, pid):
            await self.load(f"{url}/v1/leads", f"r{run}-{kind}-warm", duration_s=1)
            return (await self.flat_out(url, f"r{run}-{kind}", pid))[0]

    async def intake_flat(self, tag: str, *, edges: bool) -> tuple[Phase, float, CpuSample]:
        """Flat out from an idle pipeline; returns the phase, when wrk ended, and the CPU
        sample taken before it."""
        if await self.services.set_intake_edges(edges):
            await self.warm_intake(f"{tag}-warm", 3)
        await self.watch.settle()
        pid = self.services.pids()["intake"]
        phase, before = await self.flat_out(self.services.url("intake"), tag, pid)
        return phase, time.time(), before

    async def pipeline(self, tag: str, ended: float) -> Pipeline:
        leads = await self.watch.decided(tag)
        last = max(self.credited[lead] for lead in leads)
        burst = Pipeline(len(leads), len(leads) / (last - min(leads.values())), last - ended)
        say(
            f"  {tag}: {burst.leads} leads decided {burst.drain_s:.1f} s after the last POST,"
            f" {burst.sustained_per_s:.1f} leads/s"
        )
        return burst

    async def end_to_end(self, tag: str) -> EndToEnd:
        await self.watch.settle()
        load = await self.load(
            f"{self.services.url('intake')}/v1/leads",
            tag,
            connections=self.options.e2e_connections,
            duration_s=self.options.e2e_duration_s,
            rate=self.options.e2e_rate,
        )
        leads = await self.watch.decided(tag)
        for _ in range(50):  # a lead is routed before it is decided: at most a moment more
            if leads.keys() <= self.routed.keys():
                break
            await asyncio.sleep(0.1)
        routed = [(self.routed[i] - t) * 1000 for i, t in leads.items() if i in self.routed]
        credited = [(self.credited[i] - t) * 1000 for i, t in leads.items()]
        return EndToEnd(load, routed, credited)

    async def run(self, run: int) -> RunResult:
        opts = self.options
        await self.watch.settle()
        load_1min = os.getloadavg()[0]
        idle_from = self.cpu()
        await asyncio.sleep(3)
        idle_cpu = self.cpu().shares_since(idle_from)
        say(f"run {run + 1}: load average {load_1min:.2f}")
        bare = await self.ceiling("bare", run)
        raw = await self.ceiling("raw", run)
        flat: dict[bool, Phase] = {}
        pipeline = None
        burst_cpu: dict[str, float] = {}
        for edges in (True, False) if run % 2 == 0 else (False, True):
            tag = f"r{run}-intake" if edges else f"r{run}-intake-no-edges"
            flat[edges], ended, before = await self.intake_flat(tag, edges=edges)
            if edges:
                pipeline = await self.pipeline(tag, ended)
                burst_cpu = self.cpu().shares_since(before)
        assert pipeline is not None
        if await self.services.set_intake_edges(True):
            await self.warm_intake(f"r{run}-rewarm", 3)
        await self.watch.settle()
        paced = await self.load(
            f"{self.services.url('intake')}/v1/leads",
            f"r{run}-paced",
            connections=opts.paced_connections,
            rate=opts.rate,
        )
        e2e = await self.end_to_end(f"r{run}-e2e")
        return RunResult(
            load_1min,
            idle_cpu,
            bare,
            raw,
            flat[True],
            flat[False],
            pipeline,
            burst_cpu,
            paced,
            e2e,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=32, help="flat-out connections")
    parser.add_argument("--duration", type=float, default=15, help="seconds per phase")
    parser.add_argument("--rate", type=float, default=500, help="paced phase, requests/s")
    parser.add_argument("--paced-connections", type=int, default=64)
    parser.add_argument("--e2e-rate", type=float, default=100, help="end-to-end phase, leads/s")
    parser.add_argument("--e2e-duration", type=float, default=10, help="seconds")
    parser.add_argument("--e2e-connections", type=int, default=16)
    parser.add_argument("--drain-timeout", type=float, default=600, help="seconds")
    parser.add_argument("--durable", action="store_true", help="PostgreSQL with fsync on")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument(
        "--logs", type=Path, help="keep the services' and wrk's logs here (kept anyway on failure)"
    )
    args = parser.parse_args()
    opts = Options(
        threads=args.threads,
        connections=args.connections,
        duration_s=args.duration,
        rate=args.rate,
        paced_connections=args.paced_connections,
        e2e_rate=args.e2e_rate,
        e2e_duration_s=args.e2e_duration,
        e2e_connections=args.e2e_connections,
        drain_timeout_s=args.drain_timeout,
    )
    wrk = require_wrk()

    async def measure(infra: Infra, work: Path) -> tuple[list[RunResult], list[str]]:
        async with Bench(infra, wrk, opts, work) as bench:
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
