"""Intake's commands: ``leadflow import FILE`` uploads a CSV and follows its import job
with a progress bar; ``firm-add``, ``firm-key`` and ``firm-key-revoke`` manage partner
firms and their API keys. A Typer app: mount it in the ``leadflow`` CLI with
``app.add_typer(intake_cli.app)`` (its commands join the top level).

Intake's URL and the ops token: ``--url``/``--token``, else LEADFLOW_INTAKE_URL /
LEADFLOW_OPS_TOKEN, else the running ``make up`` stack of this checkout
(services.stack_file). Exit codes: services.exit_codes. What a service answers is printed
as written (never as rich markup)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.exit_codes import ExitCode, fail, reaching, say_error
from services.stack_file import find_running_stack

app = typer.Typer()
console = Console(stderr=True)
CHUNK = 256 * 1024
DEFAULT_URL = "http://127.0.0.1:8000"

Url = Annotated[
    str | None,
    typer.Option(
        envvar="LEADFLOW_INTAKE_URL",
        help=f"Intake's base URL (default: the running stack of this checkout, else {DEFAULT_URL})",
        show_default=False,
    ),
]
Token = Annotated[
    str | None,
    typer.Option(
        envvar="LEADFLOW_OPS_TOKEN",
        help="Ops API token (default: the running stack's, in .leadflow/ops-token)",
        show_default=False,
    ),
]


def _intake(url: str | None, token: str | None) -> tuple[str, str]:
    """The URL and token to use: as given, else the running stack's."""
    stack = find_running_stack() if url is None or token is None else None
    url = url or (stack.urls.get("intake") if stack else None) or DEFAULT_URL
    token = token or (stack.ops_token if stack else None)
    if not token:
        fail(
            ExitCode.USAGE,
            "no ops token: pass --token or set LEADFLOW_OPS_TOKEN (`make up` prints it and "
            "keeps it in .leadflow/ops-token)",
        )
    return url.rstrip("/"), token


def problem_lines(answer: httpx.Response) -> list[str]:
    """An error answer in plain lines: status and title, detail, each field's reason
    (problem+json, RFC 9457), or the body as it came when it is not one."""
    try:
        problem = answer.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict) or not ({"title", "detail"} & problem.keys()):
        return [f"{answer.status_code} {answer.reason_phrase}: {answer.text.strip()}"]
    head = f"{answer.status_code} {problem.get('title') or answer.reason_phrase}"
    lines = [f"{head}: {problem['detail']}" if problem.get("detail") else head]
    for error in problem.get("errors") or []:
        if isinstance(error, dict):
            where = error.get("field") or error.get("line") or "-"
            line = f"{where}: {error.get('reason', '')}"
            if line != problem.get("detail"):  # a single field error is often the detail too
                lines.append(f"  {line}")
    return lines


def _refused(answer: httpx.Response) -> None:
    for line in problem_lines(answer):
        say_error(line)
    raise typer.Exit(ExitCode.REFUSED)


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
    url: Url = None,
    token: Token = None,
) -> None:
    """Import a CSV of leads (header row with an email column); show progress and the
    rows refused with their line numbers. Exits 0 when every row went in (new or a
    repeat), 1 when some rows were refused, 3 when the import was refused or failed as a
    whole, 4 when intake cannot be reached."""
    url, token = _intake(url, token)
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
        reaching(f"intake at {url}"),
        httpx.Client(base_url=url, timeout=60) as client,
        Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar,
    ):
        upload = bar.add_task("upload (bytes)", total=file.stat().st_size)
        answer = client.post(
            "/v1/imports", params=params, headers=headers, content=_chunks(file, bar, upload)
        )
        if answer.status_code != 202:
            bar.stop()
            _refused(answer)
        location = answer.headers["location"]
        rows = bar.add_task("rows", total=total_rows)
        while True:
            polled = client.get(location, headers={"Authorization": headers["Authorization"]})
            if polled.status_code != 200:
                bar.stop()
                _refused(polled)
            job = polled.json()
            bar.update(rows, completed=job["rows_total"])
            if job["status"] in ("completed", "failed"):
                break
            time.sleep(0.5)
        bar.update(rows, total=job["rows_total"] or total_rows, completed=job["rows_total"])
    _report(job)
    raise typer.Exit(import_exit_code(job))


def import_exit_code(job: dict[str, Any]) -> ExitCode:
    if job["status"] != "completed":
        return ExitCode.REFUSED
    return ExitCode.PARTLY if job["rows_rejected"] else ExitCode.OK


def _ops(url: str, token: str, method: str, path: str, **kwargs: Any) -> Any:
    with reaching(f"intake at {url}"):
        answer = httpx.request(
            method,
            f"{url}{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            **kwargs,
        )
    if answer.status_code >= 400:
        _refused(answer)
    return answer.json() if answer.content else None


@app.command("firm-add")
def firm_add(firm_id: str, name: str, url: Url = None, token: Token = None) -> None:
    """Register a partner firm."""
    url, token = _intake(url, token)
    _ops(url, token, "POST", "/v1/firms", json={"firm_id": firm_id, "name": name})
    typer.echo(f"firm {firm_id} added")


@app.command("firm-key")
def firm_key(firm_id: str, url: Url = None, token: Token = None) -> None:
    """Issue an API key for a firm; the token is printed once and never stored."""
    url, token = _intake(url, token)
    issued = _ops(url, token, "POST", f"/v1/firms/{firm_id}/keys")
    typer.echo(f"key {issued['key_id']} for {firm_id} (shown once, keep it safe):", err=True)
    typer.echo(issued["token"])


@app.command("firm-key-revoke")
def firm_key_revoke(firm_id: str, key_id: str, url: Url = None, token: Token = None) -> None:
    """Revoke a firm's API key (every service refuses it within a second). A key revoked
    before is said so, and left as it is (exit 0)."""
    url, token = _intake(url, token)
    firm = _ops(url, token, "GET", f"/v1/firms/{firm_id}")
    key = next((k for k in firm["keys"] if k["key_id"] == key_id), None)
    if key is not None and key["revoked"]:
        typer.echo(f"key {key_id} of {firm_id} was already revoked ({key['revoked_at']})")
        return
    _ops(url, token, "DELETE", f"/v1/firms/{firm_id}/keys/{key_id}")
    typer.echo(f"key {key_id} revoked")


def _report(job: dict[str, Any]) -> None:
    console.print(
        f"import {job['import_id']}: {job['status']} — {job['rows_accepted']} new, "
        f"{job['rows_duplicate']} repeats, {job['rows_rejected']} refused",
        markup=False,
        highlight=False,
    )
    if job.get("detail"):
        say_error(str(job["detail"]))
    for error in job["errors"][:50]:
        console.print(
            f"  line {error['line']}: {error['field']}: {error['reason']}",
            markup=False,
            highlight=False,
        )
    if len(job["errors"]) > 50 or job.get("errors_truncated"):
        console.print(f"  … more at GET /v1/imports/{job['import_id']}", markup=False)
