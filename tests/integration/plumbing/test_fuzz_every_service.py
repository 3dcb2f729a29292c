"""Fuzzing every operation of every service from its own OpenAPI document (schemathesis
and hypothesis, ``LEADFLOW_FUZZ_EXAMPLES`` cases per operation, valid and invalid by the
document): whatever is sent, no
answer is a 5xx, every status answered is one the document lists for that operation,
with the content type it lists, and every 4xx is a problem document.

The four services run in this process (each under uvicorn in a thread of its own, its
real lifespan) on a database of their own, so the fuzzer's junk stays there, and with
the broker unreachable, so their events wait in the outbox, read by no one.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from services.credit.app import create_app as credit_app
from services.intake.app import create_app as intake_app
from services.intake.settings import IntakeSettings
from services.ops.app import create_app as ops_app
from services.router.app import create_app as router_app
from shared.embedded import free_port
from shared.settings import Settings
from tests.support.credentials import ADMIN
from tests.support.infra import Infra, fresh_database

EXAMPLES = int(os.environ.get("LEADFLOW_FUZZ_EXAMPLES", "10"))
TOKEN = ADMIN
SKIP = {
    ("GET", "/readyz"),  # 503 by design here: the broker is unreachable
    ("GET", "/v1/events/stream"),  # an endless event stream (tests/integration/ops)
}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]


class _Served:
    """An app under uvicorn in a thread with its own event loop, on a socket bound first
    (no check-then-bind race)."""

    def __init__(self, app: FastAPI) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_config=None, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> _Served:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.url} did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.thread.join(60)
        self.socket.close()


@pytest.fixture(scope="module")
def services(infra: Infra) -> Iterator[dict[str, Any]]:
    with fresh_database(infra) as database_url:
        base: Settings = infra.settings(
            database_url=database_url,
            kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
            kafka_request_timeout_s=1.0,
            kafka_send_timeout_s=2.0,
            log_level="ERROR",
        )
        own = IntakeSettings(webhook_secrets='{"mautic": "whsec_c2VjcmV0"}')
        apps: dict[str, Callable[[], FastAPI]] = {
            "intake": lambda: intake_app(base, own),
            "router": lambda: router_app(base),
            "credit": lambda: credit_app(base),
            "ops": lambda: ops_app(base),
        }
        served = {name: _Served(make()) for name, make in apps.items()}
        for running in served.values():
            running.__enter__()
        try:
            intake = served["intake"].url
            ops = {"Authorization": f"Bearer {TOKEN}"}
            firm = httpx.post(
                f"{intake}/v1/firms", json={"firm_id": "fuzz", "name": "F"}, headers=ops
            )
            assert firm.status_code == 201, firm.text
            key = httpx.post(f"{intake}/v1/firms/fuzz/keys", headers=ops).json()
            yield {"urls": {n: s.url for n, s in served.items()}, "partner": key["token"]}
        finally:
            for running in served.values():  # all at once: each waits out its broker
                running.stop()
            for running in served.values():
                running.__exit__()


def _fuzz(operation: Any, base: str, token: str) -> None:
    # Valid input (the documented answers) and invalid input (no 5xx, the 4xx listed).
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        # Never follow a redirect (a form's redirect_url may name any host).
        response = case.call(base_url=base, headers=headers, allow_redirects=False)
        where = f"{case.method} {case.path} -> {response.status_code}: {response.text[:300]}"
        case.validate_response(response, checks=CHECKS, headers=headers)
        if 400 <= response.status_code < 500:
            content_type = (response.headers.get("content-type") or [""])[0]
            assert content_type.startswith("application/problem+json"), where

    fuzz()


@pytest.mark.parametrize("name", ["intake", "router", "credit", "ops"])
def test_no_input_gets_a_5xx_or_an_answer_the_document_does_not_list(
    services: dict[str, Any], name: str
) -> None:
    base = services["urls"][name]
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        partner = operation.path.startswith("/v1/partner")
        try:
            _fuzz(operation, base, services["partner"] if partner else TOKEN)
        except Exception as exc:  # collected: every operation is fuzzed, all failures shown
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:1500])
    assert not failures, "\n\n".join(failures)
