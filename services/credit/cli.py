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
