"""Intake's commands: ``leadflow import FILE`` uploads a CSV and follows its import job
with a progress bar; ``firm-add``, ``firm-key`` and ``firm-key-revoke`` manage partner
firms and their API keys. A Typer app: mount it in the ``leadflow`` CLI with
``app.add_typer(intake_cli.app)`` (its commands join the top level)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

app = typer.Typer()
console = Console(stderr=True)
CHUNK = 256 * 1024


def _count_rows(path: Path) -> int:
    """Data rows (lines after the header) — the bar's total; a quoted field holding a line
    break makes it a slight overestimate, which the final count corrects."""
    with path.open("rb") as f:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    return max(0, lines - 1)


def _chunks(path: Path, progress: Progress, task: Any) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            progress.advance(task, len(chunk))
            yield chunk


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    source: Annotated[str, typer.Option(help="Lead source, e.g. webinar-list")] = "import",
    campaign: Annotated[str | None, typer.Option(help="Campaign of every row")] = None,
    url: Annotated[
        str, typer.Option(envvar="LEADFLOW_INTAKE_URL", help="Intake's base URL")
    ] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None, typer.Option(envvar="LEADFLOW_OPS_TOKEN", help="Ops API token")
    ] = None,
) -> None:
    """Import a CSV of leads (header row with an email column); show progress and the
    rows refused with their line numbers."""
    token = token or os.environ.get("LEADFLOW_OPS_TOKEN")
    if not token:
        raise typer.BadParameter("set --token or LEADFLOW_OPS_TOKEN")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    params = {"source": source, **({"campaign": campaign} if campaign else {})}
    total_rows = _count_rows(file)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with (
        httpx.Client(base_url=url, timeout=60) as client,
        Progress(*columns, console=console) as bar,
    ):
        upload = bar.add_task("upload (bytes)", total=file.stat().st_size)
        answer = client.post(
            "/v1/imports", params=params, headers=headers, content=_chunks(file, bar, upload)
        )
        if answer.status_code != 202:
            console.print(f"[red]refused ({answer.status_code}): {answer.text}")
            raise typer.Exit(1)
        location = answer.headers["location"]
        rows = bar.add_task("rows", total=total_rows)
        while True:
            job = client.get(location, headers={"Authorization": headers["Authorization"]}).json()
            bar.update(rows, completed=job["rows_total"])
            if job["status"] in ("completed", "failed"):
                break
            time.sleep(0.5)
        bar.update(rows, total=job["rows_total"] or total_rows, completed=job["rows_total"])
    _report(job)
    raise typer.Exit(0 if job["status"] == "completed" else 1)


Url = Annotated[str, typer.Option(envvar="LEADFLOW_INTAKE_URL", help="Intake's base URL")]
Token = Annotated[str, typer.Option(envvar="LEADFLOW_OPS_TOKEN", help="Ops API token")]


def _ops(url: str, token: str, method: str, path: str, **kwargs: Any) -> Any:
    answer = httpx.request(
        method, f"{url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30, **kwargs
    )
    if answer.status_code >= 400:
        console.print(f"[red]{answer.status_code}: {answer.text}")
        raise typer.Exit(1)
    return answer.json() if answer.content else None


@app.command("firm-add")
def firm_add(
    firm_id: str, name: str, url: Url = "http://127.0.0.1:8000", token: Token = ""
) -> None:
    """Register a partner firm."""
    _ops(url, token, "POST", "/v1/firms", json={"firm_id": firm_id, "name": name})
    typer.echo(f"firm {firm_id} added")


@app.command("firm-key")
def firm_key(firm_id: str, url: Url = "http://127.0.0.1:8000", token: Token = "") -> None:
    """Issue an API key for a firm; the token is printed once and never stored."""
    issued = _ops(url, token, "POST", f"/v1/firms/{firm_id}/keys")
    console.print(f"key {issued['key_id']} for {firm_id} (shown once, keep it safe):")
    typer.echo(issued["token"])


@app.command("firm-key-revoke")
def firm_key_revoke(
    firm_id: str, key_id: str, url: Url = "http://127.0.0.1:8000", token: Token = ""
) -> None:
    """Revoke a firm's API key (at once here; other services follow the key event)."""
    _ops(url, token, "DELETE", f"/v1/firms/{firm_id}/keys/{key_id}")
    typer.echo(f"key {key_id} revoked")


def _report(job: dict[str, Any]) -> None:
    console.print(
        f"import {job['import_id']}: {job['status']} — {job['rows_accepted']} new, "
        f"{job['rows_duplicate']} repeats, {job['rows_rejected']} refused"
    )
    if job.get("detail"):
        console.print(f"[red]{job['detail']}")
    for error in job["errors"][:50]:
        console.print(f"  line {error['line']}: {error['field']}: {error['reason']}")
    if len(job["errors"]) > 50 or job.get("errors_truncated"):
        console.print(f"  … more at GET {job['import_id']}")
