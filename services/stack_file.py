"""Where a checkout's running stack is: ``leadflow up`` writes ``.leadflow/stack.json``
once its services are ready (and removes it when it stops); the CLI of the same checkout
reads it, so ``leadflow import``, ``firm-add``, ``reconcile``... need no URL, token or
DATABASE_URL beside ``make up``. Holds no knowledge of how the stack is started."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from shared.settings import Settings

STACK_FILE = "stack.json"
OPS_TOKEN_FILE = "ops-token"  # noqa: S105 - a file name
_CHECKOUT_DATA_DIR = Path(__file__).resolve().parents[1] / ".leadflow"  # make up writes it


@dataclass(frozen=True)
class RunningStack:
    """What ``leadflow up`` writes to ``<data dir>/stack.json`` once its services are
    ready, and removes when it stops: so that the CLI of the same checkout finds the
    services (``urls``), the servers (``env``: DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS and
    the embedded broker's client settings) and the ops token (``ops-token`` beside it)
    without being told."""

    pid: int
    urls: dict[str, str]
    env: dict[str, str]
    data_dir: Path

    def write(self) -> None:
        path = self.data_dir / STACK_FILE
        draft = path.with_suffix(".tmp")
        draft.write_text(json.dumps({"pid": self.pid, "urls": self.urls, "env": self.env}))
        draft.chmod(0o600)  # it names the database
        draft.replace(path)

    def remove(self) -> None:
        (self.data_dir / STACK_FILE).unlink(missing_ok=True)

    @property
    def ops_token(self) -> str | None:
        try:
            return (self.data_dir / OPS_TOKEN_FILE).read_text().strip() or None
        except OSError:
            return None

    @classmethod
    def read(cls, data_dir: Path) -> RunningStack | None:
        """The stack described in ``data_dir``, or None when there is none, the file is
        unreadable or its ``leadflow up`` process is gone (killed without cleaning up)."""
        try:
            found = json.loads((data_dir / STACK_FILE).read_text())
            stack = cls(int(found["pid"]), dict(found["urls"]), dict(found["env"]), data_dir)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        try:
            os.kill(stack.pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, another user's
        return stack


def stack_data_dirs() -> list[Path]:
    """Where ``leadflow up`` keeps its data: LEADFLOW_DATA_DIR when set; else
    ``.leadflow`` in the current directory (``leadflow up`` run here), then in the
    checkout this code is installed from (``make up`` there)."""
    settings = Settings()
    if "leadflow_data_dir" in settings.model_fields_set:
        return [settings.leadflow_data_dir.resolve()]
    here = settings.leadflow_data_dir.resolve()
    return [here] if here == _CHECKOUT_DATA_DIR else [here, _CHECKOUT_DATA_DIR]


def find_running_stack() -> RunningStack | None:
    """The running ``leadflow up`` stack of this checkout, if any (see stack_data_dirs)."""
    for data_dir in stack_data_dirs():
        stack = RunningStack.read(data_dir)
        if stack is not None:
            return stack
    return None


def stack_settings() -> Settings:
    """Settings from the environment; when it names neither DATABASE_URL nor
    KAFKA_BOOTSTRAP_SERVERS, the running stack's servers (and the embedded broker's
    client settings), so that ``leadflow reconcile`` and friends work beside ``make up``."""
    if {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"} & {k.upper() for k in os.environ}:
        return Settings()
    stack = find_running_stack()
    if stack is None:
        return Settings()
    values = {k.lower(): v for k, v in stack.env.items() if k.upper() not in os.environ}
    return Settings(**values)  # type: ignore[arg-type]


class NoServers(Exception):
    """Neither the environment nor a running stack names the servers a command needs."""


def servers_settings(*, need_database: bool = True, need_broker: bool = True) -> Settings:
    """``stack_settings()`` with the servers a command needs, or NoServers saying how to
    name them."""
    settings = stack_settings()
    missing = [
        name
        for name, needed, value in (
            ("DATABASE_URL", need_database, settings.database_url),
            ("KAFKA_BOOTSTRAP_SERVERS", need_broker, settings.kafka_bootstrap_servers),
        )
        if needed and not value
    ]
    if missing:
        raise NoServers(
            f"{' and '.join(missing)} not set, and no running stack of this checkout was "
            "found (start one with `make up`, or set them)"
        )
    return settings
