"""``leadflow router ...``: router's commands (a Typer app the main ``leadflow`` command
mounts with ``app.add_typer(router_cli.app, name="router")``).

- ``leadflow router load-accounts accounts.csv``: bulk load (streamed, COPY in batches)
  with a progress bar; bad rows are listed with their line numbers.
- ``leadflow router check-ruleset rules.yaml``: validate a rule set file offline.

Exit codes: services.exit_codes. Messages are printed as written (never as rich markup:
a reason may hold brackets, such as a pattern).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import asyncpg
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from services.exit_codes import ExitCode, fail, reaching, say_error
from services.router.bulk import AccountLoader, LoadReport, owner_ids
from services.router.domain.ruleset import parse_ruleset
from services.stack_file import NoServers, servers_settings
from shared.db import asyncpg_dsn

app = typer.Typer(help="Router: accounts, owners and routing rules.", no_args_is_help=True)
console = Console(stderr=True)
CHUNK = 1 << 20


async def _load(path: Path, size: int, database_url: str, batch_size: int) -> LoadReport:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        columns = (
            TextColumn("[bold]accounts"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[rows]:,} rows, {task.fields[failed]:,} bad"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console) as progress, path.open("rb") as source:
            task = progress.add_task("load", total=size, rows=0, failed=0)

            def on_batch(report: LoadReport) -> None:
                progress.update(task, rows=report.rows, failed=report.failed)

            loader = AccountLoader(
                conn, await owner_ids(conn), batch_size=batch_size, on_batch=on_batch
            )
            while chunk := source.read(CHUNK):
                await loader.feed(chunk)
                progress.update(task, advance=len(chunk))
            return await loader.finish()
    finally:
        await conn.close()


@app.command("load-accounts")
def load_accounts(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV with a header")],
    batch_size: Annotated[int, typer.Option(min=100, max=100_000)] = 10_000,
    show_errors: Annotated[int, typer.Option(help="Bad rows to list")] = 50,
) -> None:
    """Bulk load (upsert by id) accounts from CSV; bad rows are reported, good rows go in.
    Exits 0 when every row loaded, 1 when some were bad, 3 when the file was refused
    (its header), 4 when the database cannot be reached."""
    try:
        database_url = servers_settings(need_broker=False).database_url
    except NoServers as missing:
        fail(ExitCode.USAGE, str(missing))
    assert database_url is not None
    try:
        with reaching("the database"):
            report = asyncio.run(_load(path, path.stat().st_size, database_url, batch_size))
    except ValueError as bad_header:  # nothing loaded
        fail(ExitCode.REFUSED, str(bad_header))
    for row_error in report.errors[:show_errors]:
        console.print(
            f"line {row_error.line}: {row_error.field}: {row_error.reason}",
            markup=False,
            highlight=False,
        )
    console.print(f"{report.rows:,} rows: {report.loaded:,} loaded, {report.failed:,} bad")
    raise typer.Exit(ExitCode.PARTLY if report.failed else ExitCode.OK)


@app.command("check-ruleset")
def check_ruleset(path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Validate a rule set file (YAML or JSON) without touching anything."""
    try:
        ruleset = parse_ruleset(path.read_text())
    except ValueError as error:
        say_error(f"invalid: {error}")
        raise typer.Exit(ExitCode.PARTLY) from None
    console.print(f"{ruleset.version}: {len(ruleset.rules)} rules, valid")
