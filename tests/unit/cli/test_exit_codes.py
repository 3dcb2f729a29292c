"""The CLI's failures are one line with an exit code that means something
(services.exit_codes): a server that cannot be reached is 4 and no traceback; no token or
no servers named is 2; an error answer is printed as written, brackets and all."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from services.cli import app as leadflow
from services.exit_codes import ExitCode
from services.intake.cli import app as intake
from services.intake.cli import import_exit_code, problem_lines
from services.router.cli import app as router

PATTERN = "^[a-z0-9][a-z0-9_-]{0,99}$"


@pytest.fixture
def dead_port() -> Iterator[int]:
    """A port bound but not listening: every connection to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.fixture(autouse=True)
def no_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No running stack to find and no settings from the environment."""
    monkeypatch.setenv("LEADFLOW_DATA_DIR", str(tmp_path))
    for name in (
        "LEADFLOW_INTAKE_URL",
        "LEADFLOW_OPS_TOKEN",
        "DATABASE_URL",
        "KAFKA_BOOTSTRAP_SERVERS",
    ):
        monkeypatch.delenv(name, raising=False)


def _one_line_failure(result: Result, code: ExitCode) -> str:
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit)  # no exception escaped the command
    assert "Traceback" not in result.output
    (line,) = result.stderr.splitlines()
    return line


@pytest.mark.parametrize(
    "args",
    [
        ["firm-add", "acme", "Acme"],
        ["firm-key", "acme"],
        ["firm-key-revoke", "acme", "k1"],
        ["import", "__file__"],
    ],
)
def test_an_unreachable_intake_is_one_line_and_exit_4(
    args: list[str], dead_port: int, tmp_path: Path
) -> None:
    csv = tmp_path / "leads.csv"
    csv.write_text("email\na@initech.com\n")
    args = [str(csv) if a == "__file__" else a for a in args]
    url = f"http://127.0.0.1:{dead_port}"
    result = CliRunner().invoke(intake, [*args, "--url", url, "--token", "t"])
    line = _one_line_failure(result, ExitCode.UNREACHABLE)
    assert line.startswith(f"leadflow: cannot reach intake at {url}: ")
    assert "refused" in line.lower()


def test_no_token_anywhere_is_a_usage_error_saying_where_to_get_one() -> None:
    result = CliRunner().invoke(intake, ["firm-add", "acme", "Acme"])
    line = _one_line_failure(result, ExitCode.USAGE)
    assert "LEADFLOW_OPS_TOKEN" in line
    assert "make up" in line


def test_an_unreachable_database_is_one_line_and_exit_4(
    dead_port: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{dead_port}/x")
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("id,name,domains\nacc-1,Acme,acme.com\n")
    for app, args in ((router, ["load-accounts", str(accounts)]), (leadflow, ["migrate"])):
        line = _one_line_failure(CliRunner().invoke(app, args), ExitCode.UNREACHABLE)
        assert line.startswith("leadflow: cannot reach the database: ")


def test_no_servers_and_no_stack_is_a_usage_error() -> None:
    line = _one_line_failure(CliRunner().invoke(leadflow, ["reconcile"]), ExitCode.USAGE)
    assert "DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS not set" in line


def test_a_problem_is_printed_as_written() -> None:
    answer = httpx.Response(
        422,
        json={
            "title": "Invalid input",
            "status": 422,
            "detail": "Invalid firm_id.",
            "errors": [{"field": "firm_id", "reason": f"String should match pattern '{PATTERN}'"}],
        },
    )
    assert problem_lines(answer) == [
        "422 Invalid input: Invalid firm_id.",
        f"  firm_id: String should match pattern '{PATTERN}'",
    ]
    single = {
        "title": "Invalid input",
        "detail": "name: Field required",
        "errors": [{"field": "name", "reason": "Field required"}],
    }
    assert problem_lines(httpx.Response(422, json=single)) == [
        "422 Invalid input: name: Field required"
    ]
    assert problem_lines(httpx.Response(502, text="[bad] gateway")) == [
        "502 Bad Gateway: [bad] gateway"
    ]


@pytest.mark.parametrize(
    ("status", "rejected", "code"),
    [
        ("completed", 0, ExitCode.OK),
        ("completed", 1, ExitCode.PARTLY),
        ("failed", 0, ExitCode.REFUSED),
    ],
)
def test_import_exit_codes(status: str, rejected: int, code: ExitCode) -> None:
    assert import_exit_code({"status": status, "rows_rejected": rejected}) == code
