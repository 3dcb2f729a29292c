"""What the consumer benchmarks share: a migrated database on an embedded PostgreSQL of
their own, the round-trip ceiling, and the table of runs with medians."""

from __future__ import annotations

import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from services.catalog import migrate
from shared.db import asyncpg_dsn
from shared.embedded import EmbeddedPostgres


@contextmanager
def migrated_database(services: list[str]) -> Iterator[str]:
    """A fresh database with ``services``' migrations applied, on an embedded PostgreSQL
    started (and stopped) here. Yields its URL."""
    with tempfile.TemporaryDirectory() as work:
        postgres = EmbeddedPostgres(Path(work) / "postgres", fast=True).start()
        try:
            name = f"leadflow_bench_{secrets.token_hex(4)}"

            async def create() -> None:
                conn = await asyncpg.connect(asyncpg_dsn(postgres.url))
                try:
                    await conn.execute(f'CREATE DATABASE "{name}"')
                finally:
                    await conn.close()

            asyncio.run(create())
            url = make_url(postgres.url).set(database=name).render_as_string(hide_password=False)
            migrate(url, services)
            yield url
        finally:
            postgres.stop()


async def round_trip_rate(database_url: str, n: int) -> float:
    """The ceiling for a consumer on one connection: bare asyncpg ``SELECT 1`` round trips."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        started = time.perf_counter()
        for _ in range(n):
            await conn.fetchval("SELECT 1")
        return n / (time.perf_counter() - started)
    finally:
        await conn.close()


Figure = float | tuple[float, ...]


def _median(values: Sequence[Figure]) -> Figure:
    if isinstance(values[0], tuple):
        columns = zip(*(v if isinstance(v, tuple) else (v,) for v in values), strict=True)
        return tuple(statistics.median(c) for c in columns)
    return statistics.median(v for v in values if not isinstance(v, tuple))


def _cell(value: Figure, fmt: str) -> str:
    if isinstance(value, tuple):
        return " / ".join(fmt.format(v) for v in value)
    return fmt.format(value)


def print_runs(
    title: str, rows: Sequence[tuple[str, Sequence[Figure], str]], *, markdown: bool = False
) -> None:
    """One row per metric (name, a value per run, format), with the median of the runs. A
    value may be a tuple of figures (p50 / p95 / p99, say): the median is taken of each.
    ``markdown``: also print it as a Markdown table (for the README)."""
    runs = len(rows[0][1])
    table = Table(title=title)
    table.add_column("metric")
    for run in range(runs):
        table.add_column(f"run {run + 1}", justify="right")
    table.add_column("median", justify="right")
    lines = [
        "| metric | " + " | ".join(f"run {i + 1}" for i in range(runs)) + " | median |",
        "|---|" + "---|" * (runs + 1),
    ]
    for name, values, fmt in rows:
        cells = [_cell(v, fmt) for v in values] + [_cell(_median(values), fmt)]
        table.add_row(name, *cells)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    Console().print(table)
    if markdown:
        print(f"\n{title}\n\n" + "\n".join(lines))
