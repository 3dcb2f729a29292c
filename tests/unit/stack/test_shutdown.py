"""Stopping ``leadflow up`` (services.stack.Shutdown): the first signal interrupts what it
is doing; any later one, or one once it is stopping for another reason, only says so
(never a traceback). A second ``leadflow up`` in the same checkout stops at once."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from services.stack import Shutdown, _Stop, run_stack
from services.stack_file import RunningStack
from shared.settings import Settings


def test_the_first_signal_stops_and_later_ones_only_say_so(
    capfd: pytest.CaptureFixture[str],
) -> None:
    shutdown = Shutdown()
    with pytest.raises(_Stop, match="SIGTERM"):
        shutdown.handle(signal.SIGTERM, None)
    assert shutdown.stopping
    shutdown.handle(signal.SIGTERM, None)
    shutdown.handle(signal.SIGINT, None)
    shutdown.handle(signal.SIGHUP, None)
    err = capfd.readouterr().err
    assert err.count("still stopping") == 3
    assert "SIGINT: still stopping" in err


def test_once_stopping_for_another_reason_a_signal_does_not_interrupt() -> None:
    shutdown = Shutdown()
    shutdown.stopping = True  # a service died, or a step failed: the stop has begun
    shutdown.handle(signal.SIGINT, None)  # does not raise into the clean-up


def test_handlers_are_installed_and_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    shutdown = Shutdown()
    with shutdown.installed():
        assert signal.getsignal(signal.SIGTERM) == shutdown.handle
        assert signal.getsignal(signal.SIGHUP) == shutdown.handle
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_second_stack_in_the_same_checkout_says_the_first_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = {"intake": "http://127.0.0.1:8000"}
    RunningStack(os.getpid(), urls, {}, tmp_path).write()  # this process stands in for it
    code = run_stack(Settings(leadflow_data_dir=tmp_path), demo=False)
    out = capsys.readouterr().out
    assert code == 1
    assert f"this checkout's stack is running already (pid {os.getpid()}, intake at" in out
    assert (tmp_path / "stack.json").exists()  # the running one's, left alone
