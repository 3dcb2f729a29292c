"""``leadflow credit ...``: credit's commands."""

from __future__ import annotations

import asyncio

import typer

from services.exit_codes import ExitCode, fail, reaching
from shared.settings import Settings

app = typer.Typer(help="Credit: decisions, ledger and statements.", no_args_is_help=True)


@app.command("replay")
def replay_command(
    yes: bool = typer.Option(False, "--yes", help="Confirm: credit's decisions are rebuilt"),
) -> None:
    """Rebuild credit's decisions and ledger from every event on the topics. Stop the
    credit service first: the replay empties and refills its tables."""
    from services.credit.replay import replay

    # Not the running `make up` stack by default (unlike other commands): its credit
    # service runs, and a replay beside it would race it for the tables.
    settings = Settings()
    if not settings.database_url or not settings.kafka_bootstrap_servers:
        fail(ExitCode.USAGE, "DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS must be set")
    if not yes:
        raise typer.BadParameter("this rebuilds credit's tables; pass --yes")
    with reaching("the database or the broker"):
        report = asyncio.run(replay(settings))
    typer.echo(
        f"replayed {report.events} events ({report.applied} applied): {report.leads} leads decided"
    )


@app.command("backtest")
def backtest_command(
    firm: str = typer.Option(..., help="The firm whose past leads are decided again"),
    start: str = typer.Option(..., "--from", help="Leads received from this day (YYYY-MM-DD)"),
    end: str = typer.Option(..., "--to", help="... to this day, excluded"),
    terms: str | None = typer.Option(
        None,
        help="The draft terms, a YAML or JSON file (as PUT /v1/firms/{firm}/contract "
        "takes); none: the current contract (the reproducibility proof)",
    ),
    changes: int = typer.Option(20, help="Changed leads listed, with both reason lists"),
) -> None:
    """What draft terms would have decided for a firm's past leads, beside what was decided
    (nothing is written). Exits 1 when the current contract does not reproduce them."""
    from datetime import date
    from pathlib import Path

    import yaml
    from pydantic import ValidationError
    from rich.console import Console
    from rich.table import Table

    from services.credit.backtest import CreditBacktest, TooManyLeads, backtest_credit
    from services.credit.domain.contract import Terms
    from services.stack_file import NoServers, servers_settings
    from shared.db import make_engine, make_sessions

    try:
        window = (date.fromisoformat(start), date.fromisoformat(end))
        draft = Terms.model_validate(yaml.safe_load(Path(terms).read_text())) if terms else None
    except (ValueError, OSError, ValidationError, yaml.YAMLError) as error:
        raise typer.BadParameter(str(error)) from None
    try:
        settings = servers_settings(need_broker=False)
    except NoServers as missing:
        fail(ExitCode.USAGE, str(missing))

    async def run() -> CreditBacktest:
        engine = make_engine(settings.database_url or "", pool_size=1)
        try:
            return await backtest_credit(make_sessions(engine), firm, draft, window)
        finally:
            await engine.dispose()

    with reaching("the database"):
        try:
            report = asyncio.run(run())
        except TooManyLeads as error:
            fail(ExitCode.USAGE, str(error))
    console = Console()
    table = Table(title=f"credit backtest: {firm}, {report.terms} vs decided, {start} to {end}")
    for column in (
        "month",
        "leads",
        "credited before",
        "after",
        f"amount before ({report.currency})",
        "after",
    ):
        table.add_column(column, justify="right")
    for m in report.months:
        table.add_row(m.month, str(m.leads), str(m.credited_before), str(m.credited_after),
                      f"{m.amount_before:,.2f}", f"{m.amount_after:,.2f}")  # fmt: skip
    console.print(table)
    console.print(f"{report.leads} leads, {report.differences} decided otherwise")
    for change in report.changes[:changes]:
        before = f"{change.before.state} {change.before.amount}" if change.before else "none"
        console.print(f"\n{change.lead_id} ({change.month}): {before} -> "
                      f"{change.after.state} {change.after.amount}: {change.why}")  # fmt: skip
        for sentence in change.before.reasons if change.before else ():
            console.print(f"  before: {sentence}")
        for sentence in change.after.reasons:
            console.print(f"  after:  {sentence}")
    if draft is None and report.differences:
        raise typer.Exit(ExitCode.PARTLY)
