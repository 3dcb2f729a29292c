"""``leadflow credentials ...``: issue, list and revoke named credentials, straight in the
database (``DATABASE_URL``, else the running ``make up`` stack's), so the first admin
credential needs no running service.
Each issue and revocation is in the audit log, its actor the operator's ``--by``."""

from __future__ import annotations

import asyncio
import getpass
from typing import Annotated

import typer

from services.exit_codes import ExitCode
from services.stack_file import NoServers, servers_settings
from shared import audit, credentials
from shared.credentials import Caller
from shared.db import make_engine, make_sessions

app = typer.Typer(
    help="Named credentials: ops scopes (admin, sales, submit, read) and firms' partner keys.",
    no_args_is_help=True,
)


def _database_url() -> str:
    try:
        url = servers_settings(need_broker=False).database_url
    except NoServers as missing:
        typer.echo(f"leadflow: {missing}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    assert url is not None  # servers_settings said so
    return url


def _operator(by: str | None) -> Caller:
    """The CLI's actor: the operator's name, as no credential signs a CLI call."""
    return Caller(key_id="cli", name=by or f"{getpass.getuser()} (cli)", scopes=frozenset())


@app.command("issue")
def issue_command(
    name: Annotated[str, typer.Option(help="Who or what uses it (shown in the audit log)")],
    scope: Annotated[
        list[str] | None,
        typer.Option(help="admin, sales, submit or read; repeat for several (ops credentials)"),
    ] = None,
    firm: Annotated[str | None, typer.Option(help="A partner key for this firm instead")] = None,
    by: Annotated[str | None, typer.Option(help="Who issues it (default: your user)")] = None,
) -> None:
    """Issue a credential; its token is printed once and never stored."""
    operator = _operator(by)

    async def run() -> credentials.Issued:
        engine = make_engine(_database_url(), pool_size=1)
        try:
            async with make_sessions(engine)() as session, session.begin():
                issued = await credentials.issue(
                    session,
                    name=name,
                    scopes=scope or (),
                    created_by=operator.actor,
                    firm_id=firm,
                )
                await audit.record(
                    session,
                    operator,
                    service="cli",
                    action="credential.issued",
                    entity_type="credential",
                    entity_id=issued.key_id,
                    before=None,
                    after={"name": name, "scopes": list(issued.scopes), "firm_id": firm},
                )
                return issued
        finally:
            await engine.dispose()

    try:
        issued = asyncio.run(run())
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    typer.echo(f"key id  {issued.key_id}")
    typer.echo(f"scopes  {', '.join(issued.scopes)}" + (f" (firm {firm})" if firm else ""))
    typer.echo(f"token   {issued.token}")
    typer.echo("(shown once: only its SHA-256 is stored)")


@app.command("list")
def list_command(
    firm: Annotated[str | None, typer.Option(help="Only this firm's keys")] = None,
) -> None:
    """Every credential: key id, name, scopes, firm, when issued and revoked."""

    async def run() -> list[credentials.CredentialInfo]:
        engine = make_engine(_database_url(), pool_size=1)
        try:
            async with make_sessions(engine)() as session:
                return await credentials.list_credentials(session, firm_id=firm)
        finally:
            await engine.dispose()

    for info in asyncio.run(run()):
        state = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "active"
        owner = f"firm {info.firm_id}" if info.firm_id else ",".join(info.scopes)
        typer.echo(f"{info.key_id}  {owner:24}  {state:24}  {info.name}")


@app.command("revoke")
def revoke_command(
    key_id: Annotated[str, typer.Argument(help="The credential's key id")],
    by: Annotated[str | None, typer.Option(help="Who revokes it (default: your user)")] = None,
) -> None:
    """Revoke a credential: every service refuses it within a second."""
    operator = _operator(by)

    async def run() -> str:
        engine = make_engine(_database_url(), pool_size=1)
        try:
            async with make_sessions(engine)() as session, session.begin():
                outcome = await credentials.revoke(session, key_id, revoked_by=operator.actor)
                if outcome == "revoked":
                    await audit.record(
                        session,
                        operator,
                        service="cli",
                        action="credential.revoked",
                        entity_type="credential",
                        entity_id=key_id,
                        before={"revoked": False},
                        after={"revoked": True},
                    )
                return outcome
        finally:
            await engine.dispose()

    outcome = asyncio.run(run())
    if outcome == "unknown":
        typer.echo(f"error: no credential {key_id}", err=True)
        raise typer.Exit(ExitCode.REFUSED)
    typer.echo(f"{key_id}: {outcome}")
