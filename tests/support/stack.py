"""Every service (intake, router, credit, ops) running as real processes against the test
infrastructure, with a mail sink (a real SMTP server) for ops' notifications."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from services.catalog import SERVICES
from shared.embedded import free_port
from tests.support.credentials import ADMIN
from tests.support.infra import Infra
from tests.support.notifications import Inbox, mail_sink


@dataclass(frozen=True)
class Stack:
    urls: dict[str, str]  # the first instance of each service
    token: str
    infra: Infra
    all_urls: dict[str, list[str]]
    inbox: Inbox  # the email ops' notifier sent

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextlib.contextmanager
def run_stack(infra: Infra, log_dir: Path, instances: int = 1) -> Iterator[Stack]:
    token = ADMIN
    closing = contextlib.ExitStack()
    sink, inbox = closing.enter_context(mail_sink())
    env = {
        **os.environ,
        **infra.env(),
        "LOG_LEVEL": "INFO",
        "OUTBOX_IDLE_WAKEUP_S": "2",
        "OPS_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",  # receivers on this machine, as leadflow up
        "OPS_SMTP_HOST": "127.0.0.1",
        "OPS_SMTP_PORT": str(sink.port),
        "OPS_SMTP_SECURITY": "none",
        "OPS_NOTIFY_DIGEST_S": "0",  # each notification its own message
    }
    children: list[subprocess.Popen[bytes]] = []
    all_urls: dict[str, list[str]] = {name: [] for name in SERVICES}
    try:
        for name in SERVICES:
            for i in range(instances):
                port = free_port()
                log = open(log_dir / f"{name}-{i}.log", "wb")  # noqa: SIM115
                children.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "services.cli", "serve", name, "--port", str(port)],
                        env={**env, "LEADFLOW_INSTANCE": f"{name}-{i}"},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
                all_urls[name].append(f"http://127.0.0.1:{port}")
                _wait_ready(f"http://127.0.0.1:{port}", children[-1])
        yield Stack({n: u[0] for n, u in all_urls.items()}, token, infra, all_urls, inbox)
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
        closing.close()


def _wait_ready(url: str, child: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"{url} exited with {child.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready")
