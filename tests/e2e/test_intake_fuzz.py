"""Fuzzing every intake endpoint from its own OpenAPI document (schemathesis +
hypothesis): whatever is sent, the answer is never a 5xx, and every 4xx is a problem
document. Intake runs as a real process on a database of its own (the fuzzer's junk
stays there) with the broker unreachable (its events wait in the outbox, read by no one).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from shared.embedded import free_port
from tests.support.credentials import ADMIN
from tests.support.infra import Infra, fresh_database

EXAMPLES = int(os.environ.get("INTAKE_FUZZ_EXAMPLES", "12"))
SKIP = {("GET", "/readyz"), ("GET", "/metrics")}


@pytest.fixture(scope="module")
def fuzzed_intake(
    infra: Infra, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    token = ADMIN
    port = free_port()
    log = tmp_path_factory.mktemp("fuzz") / "intake.log"
    with fresh_database(infra) as database_url, open(log, "wb") as out:
        env = {
            **os.environ,
            **infra.env(),
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "KAFKA_REQUEST_TIMEOUT_S": "1",
            "INTAKE_WEBHOOK_SECRETS": '{"mautic": "whsec_c2VjcmV0"}',
            "LOG_LEVEL": "WARNING",
        }
        child = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", "intake", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_alive(base, child)
            ops = {"Authorization": f"Bearer {token}"}
            firm = httpx.post(
                f"{base}/v1/firms", json={"firm_id": "fuzz", "name": "Fuzz"}, headers=ops
            )
            assert firm.status_code == 201, firm.text
            key = httpx.post(f"{base}/v1/firms/fuzz/keys", headers=ops).json()["token"]
            yield {"url": base, "ops": token, "partner": key, "log": str(log)}
        finally:
            child.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(20)
            if child.poll() is None:
                child.kill()


def _wait_alive(url: str, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"intake exited with {child.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError("intake did not start")


def _fuzz(operation: Any, base: str, token: str) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        response = case.call(base_url=base, headers={"Authorization": f"Bearer {token}"})
        where = f"{case.method} {case.path} -> {response.status_code}: {response.text[:300]}"
        assert response.status_code < 500, where
        if response.status_code >= 400:
            content_type = (response.headers.get("content-type") or [""])[0]
            assert content_type.startswith("application/problem+json"), where

    fuzz()


def test_no_input_makes_intake_answer_5xx(fuzzed_intake: dict[str, str]) -> None:
    base = fuzzed_intake["url"]
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        partner = operation.path.startswith("/v1/partner")
        try:
            _fuzz(operation, base, fuzzed_intake["partner" if partner else "ops"])
        except Exception as exc:  # collected: every operation is fuzzed, all failures shown
            failures.append(f"{operation.method.upper()} {operation.path}: {exc!r}"[:600])
    log = Path(fuzzed_intake["log"]).read_text(errors="replace")[-3000:]
    assert not failures, "\n".join(failures) + "\n--- intake log ---\n" + log
