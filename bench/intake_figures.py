"""The figures of the HTTP bench (``bench.intake_http``): what one run measures, and the
table of runs with their medians."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from bench.harness import Figure, print_runs
from bench.wrk import WrkResult


@dataclass(frozen=True)
class Options:
    threads: int
    connections: int
    duration_s: float
    rate: float
    paced_connections: int
    e2e_rate: float
    e2e_duration_s: float
    e2e_connections: int
    drain_timeout_s: float


@dataclass(frozen=True)
class Pipeline:
    """A flat-out burst through the whole pipeline."""

    leads: int
    sustained_per_s: float  # leads / (last credit.decided - first registration)
    drain_s: float  # from the end of the burst to the last credit.decided


@dataclass(frozen=True)
class EndToEnd:
    load: WrkResult
    routed_ms: list[float]
    credited_ms: list[float]


@dataclass(frozen=True)
class Phase:
    """A flat-out phase against one server process."""

    load: WrkResult
    cpu_ms: float  # the server process's CPU per accepted request


@dataclass(frozen=True)
class RunResult:
    load_1min: float
    idle_cpu: dict[str, float]  # percent of a core, the stack idle
    bare: Phase
    raw: Phase
    intake: Phase
    no_edges: Phase
    pipeline: Pipeline
    burst_cpu: dict[str, float]  # percent of a core, flat-out burst and its drain
    paced: WrkResult
    e2e: EndToEnd


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def _latencies(r: WrkResult) -> tuple[float, ...]:
    return (r.p50_ms, r.p95_ms, r.p99_ms)


def _shares(cpu: dict[str, float], names: tuple[str, ...]) -> tuple[float, ...]:
    return tuple(cpu[n] for n in names)


SERVICES_CPU = ("intake", "router", "credit", "ops")
OTHERS_CPU = ("postgres", "broker", "wrk", "bench client")


def report(results: list[RunResult], opts: Options, *, durable: bool, markdown: bool) -> None:
    rows: list[tuple[str, list[Figure], str]] = [
        ("load average (1 min) at start", [r.load_1min for r in results], "{:.2f}"),
        (
            "idle stack, CPU % of a core: intake / router / credit / ops",
            [_shares(r.idle_cpu, SERVICES_CPU) for r in results],
            "{:.0f}",
        ),
        (
            "  postgres / broker / wrk / bench client",
            [_shares(r.idle_cpu, OTHERS_CPU) for r in results],
            "{:.0f}",
        ),
    ]
    phases: list[tuple[str, str, Callable[[RunResult], Phase]]] = [
        ("bare uvicorn", "req/s", lambda r: r.bare),
        ("raw asyncpg (lead + outbox row, 1 tx)", "req/s", lambda r: r.raw),
        ("intake POST /v1/leads flat out", "accepted/s", lambda r: r.intake),
        ("intake without its edges, flat out", "accepted/s", lambda r: r.no_edges),
    ]
    for label, unit, of in phases:
        rows += [
            (f"{label}: {unit}", [of(r).load.accepted_per_s for r in results], "{:.0f}"),
            ("  p50 / p95 / p99 ms", [_latencies(of(r).load) for r in results], "{:.1f}"),
            ("  non-2xx", [float(of(r).load.non2xx) for r in results], "{:.0f}"),
            ("  server CPU ms per request", [of(r).cpu_ms for r in results], "{:.2f}"),
        ]
    rows += [
        (
            f"intake paced at {opts.rate:g}/s: achieved/s",
            [r.paced.accepted_per_s for r in results],
            "{:.0f}",
        ),
        ("  p50 / p95 / p99 ms", [_latencies(r.paced) for r in results], "{:.1f}"),
        ("  non-2xx", [float(r.paced.non2xx) for r in results], "{:.0f}"),
        ("  most behind schedule, ms", [r.paced.max_lag_ms for r in results], "{:.0f}"),
    ]
    ratios: list[tuple[str, Callable[[RunResult], float]]] = [
        (
            "intake / bare uvicorn, accepted/s",
            lambda r: r.intake.load.accepted_per_s / r.bare.load.accepted_per_s,
        ),
        (
            "intake / raw asyncpg, accepted/s",
            lambda r: r.intake.load.accepted_per_s / r.raw.load.accepted_per_s,
        ),
        (
            "intake with edges / without, accepted/s",
            lambda r: r.intake.load.accepted_per_s / r.no_edges.load.accepted_per_s,
        ),
        (
            "intake without edges / with, CPU per lead",
            lambda r: r.no_edges.cpu_ms / r.intake.cpu_ms,
        ),
    ]
    rows += [(label, [ratio(r) for r in results], "{:.3f}") for label, ratio in ratios]
    rows += [
        (
            "pipeline: leads in the flat-out burst",
            [float(r.pipeline.leads) for r in results],
            "{:.0f}",
        ),
        (
            "  sustained leads/s, first POST → last credit.decided",
            [r.pipeline.sustained_per_s for r in results],
            "{:.1f}",
        ),
        ("  drain after the last POST, s", [r.pipeline.drain_s for r in results], "{:.1f}"),
        (
            "  CPU % of a core: intake / router / credit / ops",
            [_shares(r.burst_cpu, SERVICES_CPU) for r in results],
            "{:.0f}",
        ),
        (
            "  postgres / broker / wrk / bench client",
            [_shares(r.burst_cpu, OTHERS_CPU) for r in results],
            "{:.0f}",
        ),
        (
            f"paced at {opts.e2e_rate:g}/s: achieved/s",
            [r.e2e.load.accepted_per_s for r in results],
            "{:.0f}",
        ),
        (
            "  registered → lead.routed p50 / p95 / p99 ms",
            [tuple(pct(r.e2e.routed_ms, p) for p in (50, 95, 99)) for r in results],
            "{:.0f}",
        ),
        (
            "  registered → credit.decided p50 / p95 / p99 ms",
            [tuple(pct(r.e2e.credited_ms, p) for p in (50, 95, 99)) for r in results],
            "{:.0f}",
        ),
    ]
    title = (
        f"intake over HTTP (wrk -t{opts.threads} -c{opts.connections} -d{opts.duration_s:g}s; "
        f"paced {opts.rate:g}/s -c{opts.paced_connections}; end to end {opts.e2e_rate:g}/s "
        f"-c{opts.e2e_connections} for {opts.e2e_duration_s:g}s), {len(results)} runs, "
        f"PostgreSQL {'durable' if durable else 'fsync off'}, {os.cpu_count()} cores"
    )
    print_runs(title, rows, markdown=markdown)
