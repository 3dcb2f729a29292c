"""Stopping ``leadflow up`` (services.stack.Shutdown): the first signal interrupts what it
is doing; any later one, or one once it is stopping for another reason, only says so
(never a traceback)."""

from __future__ import annotations

import signal

import pytest

from services.stack import Shutdown, _Stop


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
