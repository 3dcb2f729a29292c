"""What the ``leadflow`` command's exit codes mean (the README's table), and its one-line
failures: a message printed as written (no markup: a problem's text such as the id
pattern ``^[a-z0-9][a-z0-9_-]{0,99}$`` must reach the reader intact), never a traceback
for a server that is down or an answer that refuses."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator
from typing import NoReturn

import httpx
import typer
from aiokafka.errors import KafkaError


class ExitCode(enum.IntEnum):
    OK = 0  # done, all of it
    PARTLY = 1  # done, but not all of it: rows refused, a reconcile mismatch, a bad rule set
    USAGE = 2  # bad arguments, or no token/server named (click's code for usage errors)
    REFUSED = 3  # refused as a whole: the service answered an error, nothing was done
    UNREACHABLE = 4  # the service, database or broker could not be reached


def say_error(message: str) -> None:
    """One line (or a few, for a problem's field errors) on stderr, exactly as written."""
    typer.secho(message, err=True, fg=typer.colors.RED)


def fail(code: ExitCode, message: str) -> NoReturn:
    say_error(f"leadflow: {message}")
    raise typer.Exit(int(code))


def describe(error: BaseException) -> str:
    """An error in a few words (``[Errno 111] Connect call failed ...``)."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


@contextlib.contextmanager
def reaching(what: str) -> Iterator[None]:
    """Fails with UNREACHABLE, in one line, when ``what`` cannot be connected to (a
    refused or timed-out connection, an unknown host, a broker that never answers)."""
    try:
        yield
    except (OSError, httpx.TransportError, KafkaError) as error:
        fail(ExitCode.UNREACHABLE, f"cannot reach {what}: {describe(error)}")
