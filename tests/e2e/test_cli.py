"""The CLI against the running services: it finds the stack of its checkout without a
URL or token, exits with codes that mean something, prints a problem as written, and says
so when a key was revoked before."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from services.credentials_cli import app as credentials_cli
from services.exit_codes import ExitCode
from services.intake.cli import app as intake
from services.stack_file import RunningStack
from tests.support.stack import Stack

FIRM_ID_PATTERN = "^[a-z0-9][a-z0-9_-]{0,99}$"


@pytest.fixture
def found_stack(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The e2e stack, described where ``make up`` would describe it; nothing in the
    environment."""
    monkeypatch.setenv("LEADFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LEADFLOW_INTAKE_URL", raising=False)
    monkeypatch.delenv("LEADFLOW_OPS_TOKEN", raising=False)
    RunningStack(os.getpid(), stack.urls, stack.infra.env(), tmp_path).write()
    (tmp_path / "ops-token").write_text(stack.token + "\n")
    return tmp_path


def test_the_cli_finds_the_running_stack_and_exit_codes_mean_something(
    found_stack: Path,
) -> None:
    firm_id = f"cli-{secrets.token_hex(3)}"
    cli = CliRunner()
    added = cli.invoke(intake, ["firm-add", firm_id, "CLI firm"])
    assert (added.exit_code, added.stdout) == (ExitCode.OK, f"firm {firm_id} added\n")
    again = cli.invoke(intake, ["firm-add", firm_id, "CLI firm"])
    assert again.exit_code == ExitCode.REFUSED
    assert again.stderr.splitlines() == [
        f"409 Conflict: Firm {firm_id} exists.",
        "  firm_id: exists",
    ]


def test_a_problem_is_printed_as_written(found_stack: Path) -> None:
    refused = CliRunner().invoke(intake, ["firm-add", "Not An Id!", "X"])
    assert refused.exit_code == ExitCode.REFUSED
    assert f"String should match pattern '{FIRM_ID_PATTERN}'" in refused.stderr
    assert "Traceback" not in refused.output


def test_revoking_a_revoked_key_says_so(found_stack: Path) -> None:
    firm_id = f"cli-{secrets.token_hex(3)}"
    cli = CliRunner()
    assert cli.invoke(intake, ["firm-add", firm_id, "CLI firm"]).exit_code == 0
    issued = cli.invoke(intake, ["firm-key", firm_id])
    key_id = issued.stderr.split()[1]  # "key <id> for <firm> (shown once ...)"
    first = cli.invoke(intake, ["firm-key-revoke", firm_id, key_id])
    assert (first.exit_code, first.stdout) == (0, f"key {key_id} revoked\n")
    second = cli.invoke(intake, ["firm-key-revoke", firm_id, key_id])
    assert second.exit_code == 0
    assert second.stdout.startswith(f"key {key_id} of {firm_id} was already revoked (")
    unknown = cli.invoke(intake, ["firm-key-revoke", firm_id, "no-such-key"])
    assert unknown.exit_code == ExitCode.REFUSED
    assert unknown.stderr.startswith("404 Not found: ")


def test_an_import_with_every_row_in_exits_0_and_with_refused_rows_1(
    found_stack: Path, tmp_path: Path
) -> None:
    tag = secrets.token_hex(3)
    good, mixed = tmp_path / "good.csv", tmp_path / "mixed.csv"
    good.write_text(f"email\nok-{tag}@initech.com\n")
    mixed.write_text(f"email\nok2-{tag}@initech.com\nbroken\n")
    cli = CliRunner()
    assert cli.invoke(intake, ["import", str(good)]).exit_code == ExitCode.OK
    refused = cli.invoke(intake, ["import", str(mixed)])
    assert refused.exit_code == ExitCode.PARTLY
    assert "line 3: email" in refused.output


def test_credentials_issued_by_the_cli_work_at_once_and_stop_when_revoked(
    found_stack: Path, stack: Stack
) -> None:
    """``leadflow credentials`` finds the stack's database by itself; a read credential
    reads but may not write, and once revoked every call is refused."""
    cli = CliRunner()
    issued = cli.invoke(credentials_cli, ["issue", "--name", "cli reader", "--scope", "read"])
    assert issued.exit_code == ExitCode.OK, issued.output
    key_line, scopes_line, token_line = issued.stdout.splitlines()[:3]
    key_id, token = key_line.removeprefix("key id").strip(), token_line.split()[1]
    assert scopes_line.split() == ["scopes", "read"]
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{stack.urls['router']}/v1/owners", headers=headers).status_code == 200
    write = httpx.put(
        f"{stack.urls['router']}/v1/owners/cli-{key_id}",
        headers=headers,
        json={"name": "Nobody", "role": "AE"},
    )
    assert write.status_code == 403
    listed = cli.invoke(credentials_cli, ["list"])
    assert f"{key_id}  read" in listed.stdout
    assert "cli reader" in listed.stdout
    revoked = cli.invoke(credentials_cli, ["revoke", key_id])
    assert (revoked.exit_code, revoked.stdout) == (ExitCode.OK, f"{key_id}: revoked\n")
    deadline = time.monotonic() + 3
    while httpx.get(f"{stack.urls['router']}/v1/owners", headers=headers).status_code != 401:
        assert time.monotonic() < deadline, "a revoked credential still reads"
        time.sleep(0.1)
    unknown = cli.invoke(credentials_cli, ["revoke", "0000000000000000"])
    assert unknown.exit_code == ExitCode.REFUSED
    bad = cli.invoke(credentials_cli, ["issue", "--name", "x", "--scope", "root"])
    assert bad.exit_code == ExitCode.USAGE
