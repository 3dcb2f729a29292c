"""The CLI of a checkout finds the stack ``make up`` runs there (services.stack_file):
``.leadflow/stack.json`` while it runs, nothing once its process is gone; the
environment's own servers win over the stack's."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from services.stack_file import (
    NoServers,
    RunningStack,
    find_running_stack,
    servers_settings,
    stack_settings,
)

URLS = {"intake": "http://127.0.0.1:41000", "router": "http://127.0.0.1:41001"}
SERVERS = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:41432/postgres",
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:41092",
    "KAFKA_ENABLE_IDEMPOTENCE": "false",
    "KAFKA_FETCH_MAX_WAIT_MS": "20",
}


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """LEADFLOW_DATA_DIR of its own, and no servers named in the environment."""
    monkeypatch.setenv("LEADFLOW_DATA_DIR", str(tmp_path))
    for name in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_ENABLE_IDEMPOTENCE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _gone_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_running_stack_is_found_with_its_token(data_dir: Path) -> None:
    RunningStack(os.getpid(), URLS, SERVERS, data_dir).write()
    (data_dir / "ops-token").write_text("lf_ops_secret\n")
    found = find_running_stack()
    assert found is not None
    assert (found.urls, found.env, found.ops_token) == (URLS, SERVERS, "lf_ops_secret")
    assert stat.S_IMODE((data_dir / "stack.json").stat().st_mode) == 0o600


def test_a_stopped_or_killed_stack_is_not_found(data_dir: Path) -> None:
    stack = RunningStack(os.getpid(), URLS, SERVERS, data_dir)
    stack.write()
    stack.remove()  # a stack that stopped cleanly
    assert find_running_stack() is None
    RunningStack(_gone_pid(), URLS, SERVERS, data_dir).write()  # killed, file left behind
    assert find_running_stack() is None
    (data_dir / "stack.json").write_text("{not json")
    assert find_running_stack() is None


def test_commands_use_the_stacks_servers_unless_the_environment_names_its_own(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    RunningStack(os.getpid(), URLS, SERVERS, data_dir).write()
    settings = stack_settings()
    assert settings.database_url == SERVERS["DATABASE_URL"]
    assert settings.kafka_bootstrap_servers == SERVERS["KAFKA_BOOTSTRAP_SERVERS"]
    assert settings.kafka_enable_idempotence is False
    assert settings.kafka_fetch_max_wait_ms == 20

    monkeypatch.setenv("DATABASE_URL", "postgresql://me@db.example/leads")
    settings = stack_settings()
    assert settings.database_url == "postgresql://me@db.example/leads"
    assert settings.kafka_bootstrap_servers is None  # never half the stack's, half mine


def test_no_stack_and_no_servers_names_what_to_do(data_dir: Path) -> None:
    with pytest.raises(NoServers, match=r"DATABASE_URL not set.*make up"):
        servers_settings(need_broker=False)
