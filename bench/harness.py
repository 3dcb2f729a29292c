"""What the consumer benchmarks share: a migrated database on an embedded PostgreSQL of
their own, the ceilings (bare round trips; the same rows written again by raw asyncpg),
and the table of runs with medians."""

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


CEILING_SCHEMA = "bench_ceiling"


async def same_rows_rate(
    database_url: str, tables: Sequence[tuple[str, str]], ids: Sequence[object], batches: int
) -> float:
    """The ceiling "the same rows written in batches": every row a run wrote to each of
    ``tables`` ((table, a condition on ``$1``, the run's ids)), written again by bare
    asyncpg into an empty copy of the table (``LIKE ... INCLUDING ALL``: the same columns,
    indexes and constraints; generated ids left to their defaults) with binary COPY, in
    ``batches`` transactions each holding its share of every table's rows. The rows are
    read and encoded-ready before the clock starts. Returns ``len(ids)`` per second."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {CEILING_SCHEMA}")
        counted: dict[str, int] = {}
        plans: list[tuple[str, list[str], list[list[tuple[object, ...]]]]] = []
        for table, condition in tables:
            copy = f"{CEILING_SCHEMA}.{table.replace('.', '_')}"
            await conn.execute(f"DROP TABLE IF EXISTS {copy}")
            await conn.execute(f"CREATE TABLE {copy} (LIKE {table} INCLUDING ALL)")
            schema, name = table.split(".")
            columns = [
                r[0]
                for r in await conn.fetch(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 "
                    "AND table_name = $2 AND is_identity = 'NO' AND is_generated = 'NEVER' "
                    "AND coalesce(column_default, '') NOT LIKE 'nextval(%' "
                    "ORDER BY ordinal_position",
                    schema,
                    name,
                )
            ]
            found = await conn.fetch(
                f"SELECT {', '.join(columns)} FROM {table} WHERE {condition}", list(ids)
            )
            rows = [tuple(r) for r in found]
            counted[table] = len(rows)
            share = -(-len(rows) // batches) or 1
            plans.append((copy, columns, [rows[i : i + share] for i in range(0, len(rows), share)]))
        if not all(counted.values()):
            raise RuntimeError(f"a table of the ceiling has no rows of the run: {counted}")
        started = time.perf_counter()
        for b in range(batches):
            async with conn.transaction():
                for copy, columns, chunks in plans:
                    if b < len(chunks):
                        schema, name = copy.split(".")
                        await conn.copy_records_to_table(
                            name, schema_name=schema, records=chunks[b], columns=columns
                        )
        return len(ids) / (time.perf_counter() - started)
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
