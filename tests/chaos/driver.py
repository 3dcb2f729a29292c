"""The chaos run: leads pour in while service instances are SIGKILLed and restarted, the
broker is frozen (SIGSTOP/SIGCONT) and PostgreSQL is restarted; then ``reconcile``
proves nothing was lost or doubled.

``make chaos`` runs it at full size; ``tests/chaos/test_chaos.py`` at a bounded one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from services.catalog import SERVICES
from services.reconcile import Check, reconcile_until_settled
from services.stack import load_demo
from shared.auth import hash_token, new_token
from shared.embedded import free_port
from tests.support.infra import Infra, start_infra

DOMAINS = ["walmart.com", "initech.com", "globex.com", "gmail.com", "example.org"]


@dataclass
class Instance:
    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "services.cli",
                    "serve",
                    self.name,
                    "--port",
                    str(self.port),
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Tally:
    accepted: int = 0
    meetings: int = 0
    retried: int = 0
    kills: int = 0
    broker_freezes: int = 0
    database_restarts: int = 0
    events: list[str] = field(default_factory=list)

    def note(self, started: float, what: str) -> None:
        self.events.append(f"{time.monotonic() - started:6.1f}s {what}")


async def _wait_ready(instances: list[Instance], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2) as client:
        for instance in instances:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{instance.url}/readyz")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{instance.name}:{instance.port} never became ready")
                await asyncio.sleep(0.3)


FIRM = "acme-outreach"  # the demo firm: walmart.com is assigned to it


async def _setup_firm(intake: Instance, token: str) -> str:
    """The firm, its key, and a touch on walmart.com, so its inbound leads earn credit."""
    ops = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=10, base_url=intake.url, headers=ops) as client:
        await client.post("/v1/firms", json={"firm_id": FIRM, "name": "Acme Outreach"})
        key = (await client.post(f"/v1/firms/{FIRM}/keys")).json()["token"]
        touch = {
            "kind": "call",
            "contact_email": "it@walmart.com",
            "occurred_at": (datetime.now(UTC) - timedelta(days=2)).isoformat(),
        }
        answer = await client.post(
            "/v1/partner/activities", json=touch, headers={"Authorization": f"Bearer {key}"}
        )
        answer.raise_for_status()
        return str(key)


async def _send_leads(
    intakes: list[Instance],
    tokens: tuple[str, str],
    tally: Tally,
    *,
    total: int,
    concurrency: int,
    rate: float,
) -> None:
    """Leads at ``rate`` per second (so the chaos has time to happen under load): three in
    four from a web integration (ops API), one in four from the firm's partner API, every
    other one of those with a meeting booked and held. Every call is retried with an
    Idempotency-Key until an intake accepts it: only those count."""
    counter = iter(range(total))
    begin = time.monotonic()
    ops = {"Authorization": f"Bearer {tokens[0]}"}
    partner = {"Authorization": f"Bearer {tokens[1]}"}

    async def until_accepted(  # noqa: PLR0917 - one call, spelled out
        client: httpx.AsyncClient,
        i: int,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str],
        key: str,
    ) -> Any:
        attempt = 0
        while True:
            target = intakes[(i + attempt) % len(intakes)]
            try:
                answer = await client.post(
                    f"{target.url}{path}", json=body, headers={**headers, "Idempotency-Key": key}
                )
                if answer.status_code in (200, 201, 202):
                    return answer.json()
            except httpx.HTTPError:
                pass
            attempt += 1
            tally.retried += 1
            await asyncio.sleep(min(0.05 * attempt, 1.0))

    async def worker(client: httpx.AsyncClient) -> None:
        run = time.time_ns()
        for i in counter:
            await asyncio.sleep(max(0.0, begin + i / rate - time.monotonic()))
            email = f"chaos{i}-{run}@{DOMAINS[i % 5] if i % 4 else 'walmart.com'}"
            lead = {"email": email, "source": "chaos", "company": "Chaos Co"}
            if i % 4:
                await until_accepted(client, i, "/v1/leads", lead, ops, f"lead-{run}-{i}")
                tally.accepted += 1
                continue
            got = await until_accepted(
                client, i, "/v1/partner/leads", lead, partner, f"plead-{run}-{i}"
            )
            tally.accepted += 1
            if i % 8:
                continue
            lead_id = got["results"][0]["id"]
            meeting = await until_accepted(
                client,
                i,
                "/v1/partner/meetings",
                {"contact_email": email, "lead_id": lead_id},
                partner,
                f"meet-{run}-{i}",
            )
            await until_accepted(
                client,
                i,
                f"/v1/partner/meetings/{meeting['meeting_id']}/updates",
                {"status": "held"},
                partner,
                f"held-{run}-{i}",
            )
            tally.meetings += 1

    async with httpx.AsyncClient(timeout=10) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))


async def _make_chaos(
    infra: Infra,
    instances: list[Instance],
    stop: asyncio.Event,
    tally: Tally,
    *,
    kill_every_s: float,
    freeze_s: float,
    seed: int,
) -> None:
    """Kill an instance every ``kill_every_s``; once freeze the broker; once restart the
    database. Restarts what it killed."""
    rng = random.Random(seed)
    started = time.monotonic()
    froze = restarted_db = False
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), kill_every_s)
        if stop.is_set():
            break
        victim = rng.choice(instances)
        victim.kill()
        tally.kills += 1
        tally.note(started, f"SIGKILL {victim.name}:{victim.port}")
        await asyncio.sleep(1)
        victim.start()
        if not froze and infra.kafka is not None:
            froze = True
            infra.kafka.freeze()
            tally.broker_freezes += 1
            tally.note(started, f"broker frozen for {freeze_s:g}s")
            await asyncio.sleep(freeze_s)
            infra.kafka.thaw()
        elif not restarted_db and infra.postgres is not None:
            restarted_db = True
            infra.postgres.stop()
            tally.database_restarts += 1
            tally.note(started, "PostgreSQL stopped")
            await asyncio.sleep(2)
            # Not in a worker thread: the server's parent-death signal fires when the
            # thread that started it ends.
            infra.postgres.start()
            tally.note(started, "PostgreSQL started again")


def _instances(infra: Infra, work: Path, token: str) -> list[Instance]:
    env = {
        **os.environ,
        **infra.env(),
        "LEADFLOW_OPS_TOKEN_SHA256": hash_token(token),
        "LOG_LEVEL": "WARNING",
        "KAFKA_REQUEST_TIMEOUT_S": "5",
        "KAFKA_SEND_TIMEOUT_S": "10",
    }
    return [
        Instance(
            name, free_port(), {**env, "LEADFLOW_INSTANCE": f"{name}-{i}"}, work / f"{name}-{i}.log"
        )
        for name in SERVICES
        for i in range(2)
    ]


async def _chaos_run(
    infra: Infra,
    instances: list[Instance],
    token: str,
    *,
    leads: int,
    concurrency: int,
    rate: float,
    kill_every_s: float,
    freeze_s: float,
    seed: int,
) -> Tally:
    await load_demo(infra.database_url)
    tally = Tally()
    for instance in instances:
        instance.start()
    await _wait_ready(instances)
    stop = asyncio.Event()
    chaos = asyncio.create_task(
        _make_chaos(
            infra, instances, stop, tally, kill_every_s=kill_every_s, freeze_s=freeze_s, seed=seed
        )
    )
    intakes = [i for i in instances if i.name == "intake"]
    partner_token = await _setup_firm(intakes[0], token)
    await _send_leads(
        intakes, (token, partner_token), tally, total=leads, concurrency=concurrency, rate=rate
    )
    stop.set()
    await chaos
    for instance in instances:  # everything up again, so that the system can drain
        if instance.process is None or instance.process.poll() is not None:
            instance.start()
    await _wait_ready(instances)
    return tally


def run(
    work: Path,
    *,
    leads: int,
    concurrency: int = 16,
    rate: float = 60,
    kill_every_s: float = 8,
    freeze_s: float = 20,
    seed: int = 7,
    settle_s: float = 240,
) -> tuple[Tally, list[Check], list[tuple[str, int]]]:
    token = new_token()
    with start_infra(work) as infra:
        instances = _instances(infra, work, token)
        try:
            tally = asyncio.run(
                _chaos_run(
                    infra,
                    instances,
                    token,
                    leads=leads,
                    concurrency=concurrency,
                    rate=rate,
                    kill_every_s=kill_every_s,
                    freeze_s=freeze_s,
                    seed=seed,
                )
            )
            checks, counts = reconcile_until_settled(infra.settings(), timeout_s=settle_s)
        finally:
            for instance in instances:
                instance.stop()
    return tally, checks, counts


def render(tally: Tally, checks: list[Check], counts: list[tuple[str, int]]) -> str:
    lines = [
        f"leads accepted: {tally.accepted}, meetings held: {tally.meetings} "
        f"(client retries {tally.retried}); "
        f"instances killed: {tally.kills}; broker freezes: {tally.broker_freezes}; "
        f"database restarts: {tally.database_restarts}",
        "",
        "| check | found | result |",
        "|---|---|---|",
    ]
    lines += [f"| {c.name} | {c.found} | {'ok' if c.ok else 'MISMATCH'} |" for c in checks]
    lines += [f"| {name} | {count} | |" for name, count in counts]
    return "\n".join([*lines, "", *tally.events])


def main() -> None:
    parser = argparse.ArgumentParser(description="Leadflow chaos run")
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=60, help="leads per second")
    parser.add_argument("--kill-every", type=float, default=8)
    parser.add_argument("--freeze", type=float, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="keep logs and data in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leadflow-chaos-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        tally, checks, counts = run(
            work,
            leads=args.leads,
            rate=args.rate,
            concurrency=args.concurrency,
            kill_every_s=args.kill_every,
            freeze_s=args.freeze,
            seed=args.seed,
        )
    print(render(tally, checks, counts))
    sys.exit(0 if all(c.ok for c in checks) and tally.accepted == args.leads else 1)


if __name__ == "__main__":
    main()
