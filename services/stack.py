"""``leadflow up``: the whole system on one machine, every process owned and stopped.

Starts (when not pointed elsewhere) the embedded PostgreSQL and broker, applies the
migrations, creates the topics, loads the demo workspace, runs the four services as
child processes, sends a demo lead through, keeps a trickle of demo traffic going for the
ops dashboard, and stops everything on Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from services.catalog import SERVICES, migrate
from services.ops.demo_traffic import start_demo_traffic
from shared.auth import hash_token, new_token
from shared.db import make_engine, make_sessions
from shared.embedded import (
    EMBEDDED_BROKER_SETTINGS,
    EmbeddedKafka,
    EmbeddedPostgres,
    die_with_parent,
)
from shared.kafka import ensure_topics
from shared.settings import Settings

DEMO_LEAD = {
    "email": "jordan.lee@walmart.com",
    "name": "Jordan Lee",
    "company": "Walmart Inc.",
    "title": "Director of IT",
    "phone": "+1 479 273 4000",
    "country": "US",
    "source": "website",
    "campaign": "demo-request",
}


def _port_or_free(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def load_demo(database_url: str, today: date | None = None) -> None:
    """The demo workspace and the demo firm's contract, both in force around ``today``
    (default: today, UTC) — the demo never expires."""
    from services.credit.demo import seed_demo_contract
    from services.router.demo import demo_firm_period, seed_demo

    period = demo_firm_period(today or datetime.now(UTC).date())
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessions(engine)() as session:
            await seed_demo(session, period)
        async with make_sessions(engine)() as session:
            await seed_demo_contract(session, period.starts_on, period.ends_on)
    finally:
        await engine.dispose()


def _say(message: str = "") -> None:
    print(message, flush=True)


class _Stop(Exception):
    pass


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    def handler(signum: int, _frame: FrameType | None) -> None:
        raise _Stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout_s}s")


DEMO_FIRM = "acme-outreach"


def log_demo_touch(intake: str, auth: dict[str, str]) -> None:
    """The demo firm, a key, and a call it logged three days ago: sticking point 3 says an
    inbound lead on its account is then the firm's."""
    httpx.post(
        f"{intake}/v1/firms",
        json={"firm_id": DEMO_FIRM, "name": "Acme Outreach"},
        headers=auth,
        timeout=10,
    )  # 201, or 409 when it exists from an earlier run
    key = httpx.post(f"{intake}/v1/firms/{DEMO_FIRM}/keys", headers=auth, timeout=10)
    key.raise_for_status()
    touch = {
        "kind": "call",
        "occurred_at": (datetime.now(UTC) - timedelta(days=3)).isoformat(),
        "contact_email": DEMO_LEAD["email"],
        "notes": "Intro call with the IT director",
    }
    partner = {"Authorization": f"Bearer {key.json()['token']}"}
    httpx.post(
        f"{intake}/v1/partner/activities", json=touch, headers=partner, timeout=10
    ).raise_for_status()
    _say(f"demo firm {DEMO_FIRM} logged a call to {DEMO_LEAD['email']} three days ago")


def _poll(url: str, auth: dict[str, str], settled: Callable[[dict[str, Any]], bool]) -> Any:
    deadline, last = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        got = httpx.get(url, headers=auth, timeout=5)
        if got.status_code == 200:
            last = got.json()["decision"]
            if settled(last):
                return last
        time.sleep(0.3)
    return last


def _send_demo_lead(token: str, ports: dict[str, int]) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    base = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    log_demo_touch(base["intake"], auth)
    answer = httpx.post(f"{base['intake']}/v1/leads", json=DEMO_LEAD, headers=auth, timeout=10)
    answer.raise_for_status()
    lead_id = answer.json()["lead_id"]
    _say(f"demo lead {DEMO_LEAD['email']} (an inbound website lead) accepted: {lead_id}")
    routing = _poll(f"{base['router']}/v1/leads/{lead_id}/routing", auth, lambda d: True)
    _say(f"  routing  {routing['explanation'] if routing else 'no decision after 60s'}")
    credit = _poll(
        f"{base['credit']}/v1/leads/{lead_id}/credit", auth, lambda d: d["state"] == "credited"
    )
    if credit is None:
        _say("  credit   no decision after 60s; see the logs above")
        return
    _say(f"  credit   {credit['state']} {credit['amount']} {credit['currency']}")
    for reason in credit["reasons"]:
        _say(f"           - {reason['sentence']}")


@dataclass
class _Processes:
    """Everything ``leadflow up`` started, so that all of it is stopped."""

    postgres: EmbeddedPostgres | None = None
    kafka: EmbeddedKafka | None = None
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    traffic: threading.Event | None = None  # set to stop the demo traffic

    def stop(self) -> None:
        if self.traffic is not None:
            self.traffic.set()
        _stop_children(self.children)
        if self.kafka is not None:
            self.kafka.stop()
        if self.postgres is not None:
            self.postgres.stop()


def _start_infra(settings: Settings, data_dir: Path, procs: _Processes) -> dict[str, str]:
    """Embedded database and broker unless configured; returns the services' environment."""
    env = dict(os.environ)
    if not settings.database_url:
        _say("starting embedded PostgreSQL ...")
        procs.postgres = EmbeddedPostgres(data_dir / "postgres", port=_port_or_free(55432))
        env["DATABASE_URL"] = procs.postgres.start().url
    if not settings.kafka_bootstrap_servers:
        _say("starting embedded Kafka-compatible broker (Tansu) ...")
        procs.kafka = EmbeddedKafka(port=_port_or_free(19092), log_path=data_dir / "broker.log")
        env["KAFKA_BOOTSTRAP_SERVERS"] = procs.kafka.start().bootstrap_servers
        env.update(EMBEDDED_BROKER_SETTINGS)
    return env


def _issue_ops_token(settings: Settings, data_dir: Path, env: dict[str, str]) -> str | None:
    if settings.leadflow_ops_token_sha256:
        return None  # the operator configured their own tokens; we cannot show one
    token = new_token()
    env["LEADFLOW_OPS_TOKEN_SHA256"] = hash_token(token)
    token_file = data_dir / "ops-token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    return token


def _prepare(env: dict[str, str], *, demo: bool) -> None:
    _say("applying migrations, creating topics ...")
    migrate(env["DATABASE_URL"])
    run_settings = Settings(
        database_url=env["DATABASE_URL"],
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        kafka_enable_idempotence=env.get("KAFKA_ENABLE_IDEMPOTENCE", "true") == "true",
    )
    asyncio.run(ensure_topics(run_settings))
    if demo:
        asyncio.run(load_demo(env["DATABASE_URL"]))


def _start_services(env: dict[str, str], procs: _Processes) -> dict[str, int]:
    ports = {name: _port_or_free(info.port) for name, info in SERVICES.items()}
    for name, port in ports.items():
        procs.children[name] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", name, "--port", str(port)],
            env={**env, "LEADFLOW_INSTANCE": f"{name}-1"},
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only sets the death signal
        )
    for name, port in ports.items():
        _wait_ready(f"http://127.0.0.1:{port}", procs.children[name])
    return ports


def _watch(children: dict[str, subprocess.Popen[bytes]]) -> int:
    while True:
        for name, child in children.items():
            if child.poll() is not None:
                _say(f"{name} exited with {child.returncode}; stopping everything")
                return 1
        time.sleep(0.5)


def run_stack(settings: Settings, *, demo: bool, traffic_per_minute: float = 0) -> int:
    data_dir = settings.leadflow_data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    procs = _Processes()
    with _stop_on_signals():
        try:
            env = _start_infra(settings, data_dir, procs)
            token = _issue_ops_token(settings, data_dir, env)
            _prepare(env, demo=demo)
            ports = _start_services(env, procs)
            _print_where(env, ports, token, data_dir)
            if demo and token:
                _send_demo_lead(token, ports)
                if traffic_per_minute > 0:
                    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
                    procs.traffic = start_demo_traffic(urls, token, traffic_per_minute)[1]
                    _say(
                        f"demo traffic: about {traffic_per_minute:g} leads a minute"
                        " (--traffic 0: none)"
                    )
            _say("\nLeadflow is up. Ctrl-C stops everything.")
            return _watch(procs.children)
        except _Stop as stop:
            _say(f"\n{stop}: stopping ...")
            return 0
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            procs.stop()
            _say("stopped: services, broker and database")


def _stop_children(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 25
    for child in children.values():
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)


def _print_where(env: dict[str, str], ports: dict[str, int], token: str | None, data: Path) -> None:
    _say("")
    _say(f"  database   {env['DATABASE_URL']}")
    _say(f"  broker     {env['KAFKA_BOOTSTRAP_SERVERS']}")
    for name, port in ports.items():
        _say(f"  {name:10} http://127.0.0.1:{port}   (API docs: /docs, metrics: /metrics)")
    if token:
        _say(f"  ops token  {token}   (also in {data / 'ops-token'})")
        if "ops" in ports:
            _say(f"  dashboard  http://127.0.0.1:{ports['ops']}/?token={token}")
    _say("")
