"""The ``leadflow`` command: run the whole stack, one service, migrations, topics, demo.

Beside ``make up`` the commands need no settings: they find the running stack of this
checkout (services.stack_file); exit codes are services.exit_codes'."""

from __future__ import annotations

import asyncio
import enum
from typing import Annotated

import typer
import uvicorn

from services.catalog import SERVICES, migrate
from services.exit_codes import ExitCode, fail, reaching
from services.stack_file import NoServers, servers_settings
from shared.settings import Settings

app = typer.Typer(help="Leadflow: lead routing and credit for outside firms.", no_args_is_help=True)


def _servers(*, need_database: bool = True, need_broker: bool = True) -> Settings:
    try:
        return servers_settings(need_database=need_database, need_broker=need_broker)
    except NoServers as missing:
        fail(ExitCode.USAGE, str(missing))


class ServiceName(enum.StrEnum):
    intake = "intake"
    router = "router"
    credit = "credit"
    ops = "ops"


@app.command()
def up(
    demo: Annotated[bool, typer.Option(help="Load the demo workspace and send a demo lead")] = True,
    traffic: Annotated[
        float,
        typer.Option(
            envvar="LEADFLOW_DEMO_TRAFFIC",
            help="Demo leads a minute (with their touches, meetings and acceptances) sent "
            "through intake while it runs, for the ops dashboard; 0: none. Needs --demo.",
            min=0,
        ),
    ] = 12,
    base_port: Annotated[
        int,
        typer.Option(
            help="Preferred ports: intake on this one, router, credit and ops on the next "
            "three; a port another program holds is replaced by a free one (and said so).",
            min=1,
            max=65532,
        ),
    ] = 8000,
) -> None:
    """Start everything: embedded PostgreSQL and broker (unless DATABASE_URL /
    KAFKA_BOOTSTRAP_SERVERS are set), migrations, topics, the four services, and (with
    --demo) a demo lead and a trickle of demo traffic.
    Ctrl-C or SIGTERM stops every process it started. Exits 0 when stopped so, 1 when
    something failed."""
    from services.stack import run_stack

    raise typer.Exit(
        run_stack(Settings(), demo=demo, traffic_per_minute=traffic, base_port=base_port)
    )


@app.command()
def serve(
    service: ServiceName,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[
        int | None, typer.Option(help="Default: intake 8000, router 8001, credit 8002, ops 8003")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    fd: Annotated[
        int | None,
        typer.Option(
            help="Serve on this inherited, listening socket instead of binding --host/--port "
            "(leadflow up binds the ports itself)."
        ),
    ] = None,
) -> None:
    """Run one service (production entrypoint). Needs DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS."""
    info = SERVICES[service.value]
    trusted = Settings().forwarded_allow_ips
    uvicorn.run(
        info.factory,
        factory=True,
        host=host,
        port=port or info.port,
        fd=fd,
        workers=workers,
        access_log=False,
        log_level="warning",
        # X-Forwarded-For only from configured proxies (never from loopback by default).
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        timeout_graceful_shutdown=20,
    )


@app.command("migrate")
def migrate_command(
    service: Annotated[list[ServiceName] | None, typer.Argument(help="Default: all")] = None,
) -> None:
    """Apply database migrations (each service in its own schema)."""
    settings = _servers(need_broker=False)
    assert settings.database_url is not None
    with reaching("the database"):
        migrate(settings.database_url, [s.value for s in service] if service else None)
    typer.echo("migrations applied")


@app.command()
def topics() -> None:
    """Create the catalog's topics and their dead-letter topics."""
    from shared.kafka import ensure_topics

    settings = _servers(need_database=False)
    with reaching(f"the broker at {settings.kafka_bootstrap_servers}"):
        created = asyncio.run(ensure_topics(settings))
    typer.echo(f"created: {', '.join(created) or 'none (all exist)'}")


@app.command("demo")
def demo_command() -> None:
    """Load the demo workspace (owners, accounts, a firm assignment) into router."""
    from services.stack import load_demo

    settings = _servers(need_broker=False)
    assert settings.database_url is not None
    with reaching("the database"):
        asyncio.run(load_demo(settings.database_url))
    typer.echo("demo workspace loaded")


@app.command()
def asyncapi(
    out: Annotated[str, typer.Option(help="Where to write it")] = "docs/asyncapi.json",
) -> None:
    """Write the event catalog (AsyncAPI 3.0, generated from the event models)."""
    import json
    from pathlib import Path

    from shared.events.asyncapi import asyncapi_document

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(asyncapi_document(), indent=2, sort_keys=True) + "\n")
    typer.echo(f"wrote {out}")


@app.command()
def reconcile(
    wait: Annotated[float, typer.Option(help="Seconds to let the system drain first")] = 0,
) -> None:
    """Prove nothing was lost or doubled; exits 1 on any mismatch."""
    from rich.console import Console
    from rich.table import Table

    from services.reconcile import reconcile_until_settled

    settings = _servers()
    with reaching("the database or the broker"):
        checks, counts = reconcile_until_settled(settings, timeout_s=wait)
    table = Table(title="leadflow reconcile")
    table.add_column("check")
    table.add_column("found", justify="right")
    table.add_column("result")
    for check in checks:
        table.add_row(check.name, check.found, "ok" if check.ok else "MISMATCH")
    for name, count in counts:
        table.add_row(name, str(count), "")
    Console().print(table)
    raise typer.Exit(ExitCode.OK if all(c.ok for c in checks) else ExitCode.PARTLY)


@app.command()
def mail(
    show: Annotated[
        int | None, typer.Option(help="Print message N of the list (1: the newest) in full")
    ] = None,
    limit: Annotated[int, typer.Option(help="Messages listed, newest first", min=1)] = 20,
) -> None:
    """The email notifications ``leadflow up``'s mail sink received (owners' new leads,
    SLA reminders and breaches, ops' notices), newest first."""
    from rich.console import Console
    from rich.table import Table

    from services.stack import MAIL_DIR
    from services.stack_file import stack_data_dirs
    from shared.mail_sink import kept_mail

    found = [m for d in stack_data_dirs() for m in kept_mail(d / MAIL_DIR)]
    newest = sorted(found, key=lambda m: m.received_at, reverse=True)
    if show is not None:
        if not 1 <= show <= len(newest):
            fail(ExitCode.USAGE, f"no message {show}: {len(newest)} in the mail sink")
        message = newest[show - 1].message
        for header in ("Date", "From", "To", "Subject", "Message-ID"):
            typer.echo(f"{header}: {message[header] or ''}")
        typer.echo("\n" + newest[show - 1].body)
        return
    table = Table(title=f"leadflow mail ({len(newest)} messages)")
    for column in ("#", "received", "to", "subject"):
        table.add_column(column)
    for n, kept in enumerate(newest[:limit], start=1):
        when = f"{kept.received_at:%Y-%m-%d %H:%M:%S}"
        table.add_row(str(n), when, str(kept.message["To"]), str(kept.message["Subject"]))
    Console().print(table)


def _mount_service_commands() -> None:
    from services import backtest_cli, credentials_cli
    from services.credit import cli as credit_cli
    from services.intake import cli as intake_cli
    from services.router import cli as router_cli

    app.add_typer(credentials_cli.app, name="credentials")
    app.add_typer(intake_cli.app)
    app.add_typer(router_cli.app, name="router")
    app.add_typer(credit_cli.app, name="credit")
    app.add_typer(backtest_cli.app, name="backtest")


def main() -> None:
    _mount_service_commands()
    app()


if __name__ == "__main__":
    main()
