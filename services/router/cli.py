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


@app.command("backtest")
def backtest_command(
    start: Annotated[str, typer.Option("--from", help="Leads received from this day")],
    end: Annotated[str, typer.Option("--to", help="... to this day, excluded")],
    ruleset: Annotated[
        Path | None,
        typer.Option(help="A draft rule set (YAML or JSON); none: the active one (the proof)"),
    ] = None,
    samples: Annotated[int, typer.Option(help="Changed leads shown with both traces")] = 5,
) -> None:
    """What a draft rule set would have done to past leads, beside what the router did
    (nothing is written). Exits 1 when the active rule set does not reproduce them."""
    from datetime import date

    from pydantic import ValidationError
    from rich.table import Table

    from services.router.backtest import RoutingBacktest, TooManyLeads, backtest_routing
    from shared.db import make_engine, make_sessions

    try:
        window = (date.fromisoformat(start), date.fromisoformat(end))
        draft = parse_ruleset(ruleset.read_text()) if ruleset else None
    except (ValueError, OSError, ValidationError) as error:
        raise typer.BadParameter(str(error)) from None
    try:
        settings = servers_settings(need_broker=False)
    except NoServers as missing:
        fail(ExitCode.USAGE, str(missing))

    async def run() -> RoutingBacktest:
        engine = make_engine(settings.database_url or "", pool_size=1)
        try:
            return await backtest_routing(make_sessions(engine), draft, window)
        finally:
            await engine.dispose()

    with reaching("the database"):
        try:
            report = asyncio.run(run())
        except TooManyLeads as error:
            fail(ExitCode.USAGE, str(error))
    out = Console()
    out.print(
        f"routing backtest: rule set {report.ruleset}, leads received {start} to {end}: "
        f"{report.leads} leads, {report.differences} routed otherwise, {report.rotation} "
        "another member of the same round robin"
    )
    for title, moved in (("rule", report.by_rule), ("owner", report.by_owner)):
        if moved:
            table = Table(title=f"by {title}: before -> after")
            for column in ("before", "after", "leads"):
                table.add_column(column)
            for (before, after), n in moved.most_common():
                table.add_row(before, after, str(n))
            out.print(table)
    for flag, n in sorted(report.flags_gained.items()):
        out.print(f"flag gained: {flag} on {n} leads")
    for flag, n in sorted(report.flags_lost.items()):
        out.print(f"flag lost: {flag} on {n} leads")
    for sample in report.samples[:samples]:
        out.print(f"\n{sample.lead_id} ({sample.kind}):")
        out.print(f"  before: {sample.before.explanation}")
        out.print(f"  after:  {sample.after.explanation}")
    if draft is None and report.differences:
        raise typer.Exit(ExitCode.PARTLY)
