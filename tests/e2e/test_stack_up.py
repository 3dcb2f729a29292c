"""``leadflow up`` itself, as a user runs it (``make up``), with its embedded PostgreSQL and
broker: it binds its own ports, says which preferred port was taken and which it used, its
readiness probes reach its own services only (another program answering 200 on /readyz at
the preferred port is never asked), two stacks started at the same moment both come up,
the CLI finds the stack of its checkout, and any number of signals stop it cleanly.

Each stack here has a data directory of its own (as two checkouts would; outside pytest's
/tmp/pytest-of-<user>, which another session resets to 0700 while PostgreSQL runs as its
own user under root) and prefers a port this test holds or two stacks contend for, never
the machine's 8000-8003."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from services.intake.cli import app as intake_cli
from shared.embedded import bind_listener, holds_listener, port_taken

REPO = Path(__file__).parents[2]
UP_TIMEOUT_S = 240  # two cores shared with other test sessions
NOT_INHERITED = (
    "DATABASE_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "LEADFLOW_DATA_DIR",
    "LEADFLOW_DEMO_TRAFFIC",
    "LEADFLOW_INTAKE_URL",
    "LEADFLOW_OPS_TOKEN",
)


class Up:
    """``leadflow up`` in a session of its own, its output collected line by line."""

    def __init__(self, data_dir: Path, base_port: int, *options: str) -> None:
        env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        env |= {"LEADFLOW_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
        self.data_dir = data_dir
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "up", "--base-port", str(base_port), *options],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # our signals only, never the terminal's
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout_s: float = UP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(text in line for line in self.lines):
            if self.process.poll() is not None or time.monotonic() > deadline:
                time.sleep(0.5)  # the last lines
                raise AssertionError(f"no {text!r} from leadflow up:\n{self.output}")
            time.sleep(0.1)

    def stack(self) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = json.loads((self.data_dir / "stack.json").read_text())
        return found

    def signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(sig)

    def exit_code(self, timeout_s: float = 120) -> int:
        code = self.process.wait(timeout_s)
        self._reader.join(10)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:  # a failed test: its children follow (death signal)
            self.process.kill()
            self.process.wait(10)


@contextlib.contextmanager
def running(data_dir: Path, base_port: int, *options: str) -> Iterator[Up]:
    up = Up(data_dir, base_port, *options)
    try:
        yield up
    finally:
        up.kill()


class Decoy(BaseHTTPRequestHandler):
    """Another program on the preferred port, answering 200 to anything (/readyz too)."""

    asked: list[str] = []

    def do_GET(self) -> None:
        Decoy.asked.append(self.path)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def decoy() -> Iterator[int]:
    Decoy.asked = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Decoy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat.parent.name))
    return found


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def _served_by_its_own_children(up: Up) -> None:
    """Every URL the stack names is a socket one of its own processes holds, and ready."""
    children = _children(up.process.pid)
    for name, url in up.stack()["urls"].items():
        assert any(holds_listener(child, _port(url)) for child in children), name
        ready = httpx.get(f"{url}/readyz", timeout=5)
        assert ready.status_code == 200, (name, ready.text)
        assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}


def _stops_cleanly_on_repeated_signals(up: Up, *signals: signal.Signals) -> None:
    first, *more = signals
    up.signal(first)
    up.wait_for(f"{first.name}: stopping ...", 30)
    for sig in more:  # during the shutdown
        up.signal(sig)
        time.sleep(0.05)
    assert up.exit_code() == 0, up.output
    assert "Traceback" not in up.output
    assert f"{more[0].name}: still stopping" in up.output
    assert up.lines[-1] == "stopped: services, broker and database"
    assert not (up.data_dir / "stack.json").exists()


@pytest.fixture
def checkouts() -> Iterator[Path]:
    """Where each stack keeps its data (its checkout's .leadflow)."""
    directory = Path(tempfile.mkdtemp(prefix="leadflow-up-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_a_taken_preferred_port_is_said_and_probes_reach_only_our_services(
    decoy: int, checkouts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(
        checkouts / "checkout", decoy, "--traffic", "0"
    ) as up:  # intake prefers the decoy's port
        up.wait_for("Leadflow is up.")
        stack = up.stack()
        intake = _port(stack["urls"]["intake"])
        assert intake != decoy
        assert f"port {decoy} is taken by another program: intake is on port {intake}" in (
            up.output
        )
        assert Decoy.asked == []  # its /readyz answers 200, and nobody asked it
        _served_by_its_own_children(up)

        # The demo is relative to today: the firm's assignment runs to the end of next year.
        next_year = datetime.now(UTC).year + 1
        assert f"is assigned to acme-outreach until {next_year}-12-31" in up.output
        assert "credit   credited 150.00 USD" in up.output
        token = (up.data_dir / "ops-token").read_text().strip()
        assert (
            f"export LEADFLOW_INTAKE_URL=http://127.0.0.1:{intake} LEADFLOW_OPS_TOKEN={token}"
            in (up.output)
        )

        # The CLI of this checkout finds the stack: no URL, no token.
        monkeypatch.setenv("LEADFLOW_DATA_DIR", str(up.data_dir))
        for name in ("LEADFLOW_INTAKE_URL", "LEADFLOW_OPS_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        added = CliRunner().invoke(intake_cli, ["firm-add", "found-it", "Found it"])
        assert added.exit_code == 0, added.output

        database = _port(stack["env"]["DATABASE_URL"])
        _stops_cleanly_on_repeated_signals(up, signal.SIGTERM, signal.SIGTERM, signal.SIGINT)
    assert not port_taken(intake)
    assert not port_taken(database)


def test_two_stacks_started_at_the_same_moment_both_come_up(checkouts: Path) -> None:
    contested = bind_listener(0)  # free right now: both stacks prefer it and the next three
    base = contested.port
    contested.socket.close()
    with (
        running(checkouts / "checkout-a", base, "--no-demo") as a,
        running(checkouts / "checkout-b", base, "--no-demo") as b,
    ):
        a.wait_for("Leadflow is up.")
        b.wait_for("Leadflow is up.")
        stacks = a.stack(), b.stack()
        assert set(stacks[0]["urls"].values()).isdisjoint(stacks[1]["urls"].values())
        assert stacks[0]["env"]["DATABASE_URL"] != stacks[1]["env"]["DATABASE_URL"]
        assert (
            stacks[0]["env"]["KAFKA_BOOTSTRAP_SERVERS"]
            != stacks[1]["env"]["KAFKA_BOOTSTRAP_SERVERS"]
        )
        _served_by_its_own_children(a)
        _served_by_its_own_children(b)
        _stops_cleanly_on_repeated_signals(a, signal.SIGINT, signal.SIGINT)
        _stops_cleanly_on_repeated_signals(b, signal.SIGTERM, signal.SIGHUP)
