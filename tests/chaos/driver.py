"""The chaos run: leads pour in while service instances are SIGKILLed and restarted, the
broker is frozen (SIGSTOP/SIGCONT) and PostgreSQL is restarted; then ``reconcile``
proves nothing was lost or doubled. A webhook receiver (in this process; every tenth
request it answers 500) is subscribed before the load to what a CRM connector takes
(``HOOKED``: routing and credit decisions): each such event logged after its subscription
must reach it, verified and counted once by ``webhook-id``, and have one delivery,
delivered. A mail sink (a real SMTP server, in this process) takes ops' notifications: the
demo owners are told of each lead routed to them (in digests, one per owner every two
seconds), and each notification must be sent and reach the sink once (by its key in
``X-Leadflow-Notifications``; a repeat after a kill is dropped by ``Message-ID``).

``make chaos`` runs it at full size; ``tests/chaos/test_chaos.py`` at a bounded one.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from services.catalog import SERVICES
from services.intake.domain.signatures import sign
from services.reconcile import Check, reconcile_until_settled
from services.stack import load_demo
from shared.db import make_engine
from shared.embedded import free_port
from tests.support.credentials import ADMIN
from tests.support.infra import Infra, start_infra
from tests.support.notifications import Inbox, carried, mail_sink
from tests.support.webhooks import Receiver, receiver_in_thread

DOMAINS = ["walmart.com", "initech.com", "globex.com", "gmail.com", "example.org"]
HOOKED = ["leadflow.lead.routed.v1", "leadflow.credit.decided.v1"]


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
    touches: int = 0
    imports: int = 0
    reimports: int = 0
    retried: int = 0
    kills: int = 0
    broker_freezes: int = 0
    database_restarts: int = 0
    webhook: tuple[str, int] = ("", 0)  # the subscription's id and its position at creation
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


CHANNELS = (
    "partner",
    "partner",
    "form",
    "form",
    "webhook",
    "webhook",
    "import",
    "import",
    "api",
    "api",
)
"""Lead ``i`` comes in through ``CHANNELS[i % 10]``."""
IMPORT_ROWS = 40
RETRIED = {409, 429, 500, 502, 503, 504}
"""In flight elsewhere (an Idempotency-Key), rate-limited, or an outage: try again."""
WEBHOOK_SOURCE = "chaos-hooks"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"chaos-webhook-secret-0123456789").decode()
FORM_ORIGIN = "https://www.example.com"
FORM_KEY = "chaos-demo"


@dataclass
class Sender:
    """Sends through every channel; each call is retried (an Idempotency-Key, the same
    webhook-id, dedup for forms and re-imported files) until an intake accepts it."""

    intakes: list[Instance]
    tally: Tally
    ops: dict[str, str]
    partner: dict[str, str]
    client: httpx.AsyncClient

    async def until_accepted(
        self, i: int, path: str, make: Callable[[], dict[str, Any]]
    ) -> httpx.Response:
        attempt = 0
        while True:
            target = self.intakes[(i + attempt) % len(self.intakes)]
            try:
                answer = await self.client.post(f"{target.url}{path}", **make())
                if answer.status_code in (200, 201, 202, 303):
                    return answer
                if answer.status_code not in RETRIED:
                    raise AssertionError(f"{path} answered {answer.status_code}: {answer.text}")
            except httpx.HTTPError:
                pass
            attempt += 1
            self.tally.retried += 1
            await asyncio.sleep(min(0.05 * attempt, 1.0))

    async def partner_lead(self, i: int, email: str, run: int) -> None:
        body = {"email": email, "source": "chaos", "company": "Chaos Co"}
        headers = {**self.partner, "Idempotency-Key": f"plead-{run}-{i}"}
        got = await self.until_accepted(
            i, "/v1/partner/leads", lambda: {"json": body, "headers": headers}
        )
        lead_id = got.json()["results"][0]["id"]
        touch = {
            "kind": "email",
            "contact_email": email,
            "lead_id": lead_id,
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        touch_headers = {**self.partner, "Idempotency-Key": f"touch-{run}-{i}"}
        await self.until_accepted(
            i, "/v1/partner/activities", lambda: {"json": touch, "headers": touch_headers}
        )
        self.tally.touches += 1
        if i % 20:
            return
        meeting = {"contact_email": email, "lead_id": lead_id}
        booked = await self.until_accepted(
            i,
            "/v1/partner/meetings",
            lambda: {
                "json": meeting,
                "headers": {**self.partner, "Idempotency-Key": f"meet-{run}-{i}"},
            },
        )
        meeting_id = booked.json()["meeting_id"]
        await self.until_accepted(
            i,
            f"/v1/partner/meetings/{meeting_id}/updates",
            lambda: {
                "json": {"status": "held"},
                "headers": {**self.partner, "Idempotency-Key": f"held-{run}-{i}"},
            },
        )
        self.tally.meetings += 1

    async def api_lead(self, i: int, email: str, run: int) -> None:
        body = {"email": email, "source": "chaos", "company": "Chaos Co"}
        headers = {**self.ops, "Idempotency-Key": f"lead-{run}-{i}"}
        await self.until_accepted(i, "/v1/leads", lambda: {"json": body, "headers": headers})

    async def form_post(self, i: int, email: str) -> None:
        fields = {"email": email, "name": "Form Person", "company": "Chaos Co", "website": ""}
        await self.until_accepted(
            i,
            f"/v1/forms/{FORM_KEY}/submissions",
            lambda: {"data": fields, "headers": {"Origin": FORM_ORIGIN}},
        )

    async def webhook(self, i: int, email: str, run: int) -> None:
        body = json.dumps({"type": "form.submitted", "contact": {"email": email}}).encode()
        webhook_id = f"msg_{run}_{i}"

        def signed() -> dict[str, Any]:  # re-signed on each try, like a real sender
            timestamp = int(time.time())
            return {
                "content": body,
                "headers": {
                    "content-type": "application/json",
                    "webhook-id": webhook_id,
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": sign(WEBHOOK_SECRET, webhook_id, timestamp, body),
                },
            }

        await self.until_accepted(i, f"/v1/webhooks/{WEBHOOK_SOURCE}", signed)

    async def import_file(self, i: int, emails: list[str]) -> None:
        """Upload until a job completes: a job whose process was killed stays running (or
        fails when the database restarts), and the file is imported again — the rows
        already in are repeats, not new leads."""
        csv = "Email,Company\n" + "".join(f"{e},Chaos Co\n" for e in emails)
        while True:
            answer = await self.until_accepted(
                i,
                "/v1/imports?source=chaos-import&campaign=chaos",
                lambda: {"content": csv.encode(), "headers": self.ops},
            )
            job = answer.headers["location"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                await asyncio.sleep(1)
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    target = self.intakes[i % len(self.intakes)]
                    status = (await self.client.get(f"{target.url}{job}", headers=self.ops)).json()
                    if status.get("status") == "completed":
                        accepted = status["rows_accepted"] + status["rows_duplicate"]
                        if accepted == len(emails):
                            self.tally.imports += 1
                            return
                        raise AssertionError(f"import {job} refused rows: {status}")
                    if status.get("status") == "failed":
                        break
            self.tally.reimports += 1


async def _setup_channels(intake: Instance, token: str) -> None:
    """The chaos web form and the webhook source's mapping."""
    ops = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=10, base_url=intake.url, headers=ops) as client:
        form = {"name": "Chaos demo", "campaign": "chaos", "allowed_origins": [FORM_ORIGIN]}
        (await client.put(f"/v1/forms/{FORM_KEY}", json=form)).raise_for_status()
        mapping = {
            "event_type_path": "type",
            "events": {
                "form.submitted": {
                    "kind": "lead",
                    "engagement": "form_fill",
                    "fields": {"email": "contact.email"},
                }
            },
        }
        (await client.put(f"/v1/webhook-sources/{WEBHOOK_SOURCE}", json=mapping)).raise_for_status()


async def _send_leads(
    intakes: list[Instance],
    tokens: tuple[str, str],
    tally: Tally,
    *,
    total: int,
    concurrency: int,
    rate: float,
    run: int,
) -> None:
    """Leads at ``rate`` per second (so the chaos has time to happen under load) through
    every channel (``CHANNELS``): the firm's partner API with a touch each and every
    tenth with a meeting booked and held, web forms, signed webhooks, CSV imports of
    ``IMPORT_ROWS`` rows, and the ops API. Only what an intake accepted counts."""
    counter = iter(range(total))
    begin = time.monotonic()
    pending_import: list[str] = []

    async def worker(sender: Sender) -> None:
        for i in counter:
            await asyncio.sleep(max(0.0, begin + i / rate - time.monotonic()))
            channel = CHANNELS[i % len(CHANNELS)]
            email = f"chaos{i}-{run}@{DOMAINS[i % 5] if channel != 'partner' else 'walmart.com'}"
            if channel == "partner":
                await sender.partner_lead(i, email, run)
            elif channel == "form":
                await sender.form_post(i, email)
            elif channel == "webhook":
                await sender.webhook(i, email, run)
            elif channel == "import":
                pending_import.append(email)
                if len(pending_import) < IMPORT_ROWS and i < total - 10:
                    continue
                rows = pending_import[:]
                pending_import.clear()
                await sender.import_file(i, rows)
                tally.accepted += len(rows)
                continue
            else:
                await sender.api_lead(i, email, run)
            tally.accepted += 1

    async with httpx.AsyncClient(timeout=10) as client:
        sender = Sender(
            intakes,
            tally,
            {"Authorization": f"Bearer {tokens[0]}"},
            {"Authorization": f"Bearer {tokens[1]}"},
            client,
        )
        await asyncio.gather(*(worker(sender) for _ in range(concurrency)))
    if pending_import:
        raise AssertionError(f"{len(pending_import)} rows were never imported")


async def _make_chaos(
    infra: Infra,
    instances: list[Instance],
    stop: asyncio.Event,
    tally: Tally,
    *,
    kill_every_s: float,
    freeze_s: float,
    outage_every: int,
    seed: int,
) -> None:
    """Kill an instance every ``kill_every_s`` and restart it; after the first kill and
    then every ``outage_every`` kills an outage, the broker frozen for ``freeze_s`` and
    PostgreSQL restarted in turn."""
    rng = random.Random(seed)
    started = time.monotonic()
    outages = 0
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
        if (tally.kills - 1) % outage_every:
            continue
        outages += 1
        if outages % 2 and infra.kafka is not None:
            infra.kafka.freeze()
            tally.broker_freezes += 1
            tally.note(started, f"broker frozen for {freeze_s:g}s")
            await asyncio.sleep(freeze_s)
            infra.kafka.thaw()
        elif infra.postgres is not None:
            infra.postgres.stop()
            tally.database_restarts += 1
            tally.note(started, "PostgreSQL stopped")
            await asyncio.sleep(2)
            # Not in a worker thread: the server's parent-death signal fires when the
            # thread that started it ends.
            infra.postgres.start()
            tally.note(started, "PostgreSQL started again")


def _instances(infra: Infra, work: Path, token: str, mail_port: int) -> list[Instance]:
    env = {
        **os.environ,
        **infra.env(),
        "LOG_LEVEL": "WARNING",
        "KAFKA_REQUEST_TIMEOUT_S": "5",
        "KAFKA_SEND_TIMEOUT_S": "10",
        # All the traffic comes from this one address: lift the per-IP form limit.
        "INTAKE_FORM_RATE_PER_MIN": "1000000",
        "INTAKE_FORM_BURST": "100000",
        "INTAKE_PARTNER_RATE_PER_S": "100000",
        "INTAKE_PARTNER_BURST": "100000",
        "INTAKE_WEBHOOK_SECRETS": json.dumps({WEBHOOK_SOURCE: WEBHOOK_SECRET}),
        # The receiver is on this machine; a killed sender's lease runs out in 6 s.
        "OPS_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "OPS_WEBHOOK_TIMEOUT_S": "2",
        "OPS_WEBHOOK_FIRST_RETRY_S": "0.5",
        "OPS_WEBHOOK_LONGEST_RETRY_S": "5",
        # Notifications to the mail sink; a killed notifier's lease runs out in 6 s.
        "OPS_SMTP_HOST": "127.0.0.1",
        "OPS_SMTP_PORT": str(mail_port),
        "OPS_SMTP_SECURITY": "none",
        "OPS_NOTIFY_DIGEST_S": "2",
        "OPS_NOTIFY_TIMEOUT_S": "2",
        "OPS_NOTIFY_FIRST_RETRY_S": "0.5",
        "OPS_NOTIFY_LONGEST_RETRY_S": "5",
        "OPS_NOTIFY_OPS_EMAIL": "ops@example.com",
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
    receiver: Receiver,
    *,
    leads: int,
    concurrency: int,
    rate: float,
    kill_every_s: float,
    freeze_s: float,
    outage_every: int,
    seed: int,
    run: int,
) -> Tally:
    await load_demo(infra.database_url)
    tally = Tally()
    for instance in instances:
        instance.start()
    await _wait_ready(instances)
    ops = next(i for i in instances if i.name == "ops")
    async with httpx.AsyncClient(timeout=10) as client:
        made = await client.post(
            f"{ops.url}/v1/webhook-subscriptions",
            json={"url": receiver.url, "types": HOOKED, "description": "chaos receiver"},
            headers={"Authorization": f"Bearer {token}"},
        )
    made.raise_for_status()
    receiver.secret = made.json()["secret"]
    tally.webhook = (made.json()["id"], made.json()["position"])
    await _directory_known(infra.database_url)
    stop = asyncio.Event()
    chaos = asyncio.create_task(
        _make_chaos(
            infra,
            instances,
            stop,
            tally,
            kill_every_s=kill_every_s,
            freeze_s=freeze_s,
            outage_every=outage_every,
            seed=seed,
        )
    )
    intakes = [i for i in instances if i.name == "intake"]
    partner_token = await _setup_firm(intakes[0], token)
    await _setup_channels(intakes[0], token)
    await _send_leads(
        intakes,
        (token, partner_token),
        tally,
        total=leads,
        concurrency=concurrency,
        rate=rate,
        run=run,
    )
    stop.set()
    await chaos
    for instance in instances:  # everything up again, so that the system can drain
        if instance.process is None or instance.process.poll() is not None:
            instance.start()
    await _wait_ready(instances)
    return tally


DEMO_OWNERS = ["own-dana", "own-lee", "own-morgan", "own-sam"]


async def _directory_known(database_url: str, timeout_s: float = 60) -> None:
    """Ops has the demo owners' records (``owners.updated``) before any lead is routed, so
    that every routing decision to them is told."""
    engine = make_engine(database_url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            async with engine.connect() as connection:
                known = await connection.scalar(
                    text(
                        "SELECT count(DISTINCT owner_id) FROM ops.event_log "
                        "WHERE type = 'leadflow.owner.updated.v1' AND owner_id = ANY(:o)"
                    ),
                    {"o": DEMO_OWNERS},
                )
            if known == len(DEMO_OWNERS):
                return
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()
    raise RuntimeError("ops never had the demo owners' directory records")


async def _every_notification_mailed_once(
    database_url: str, inbox: Inbox, timeout_s: float
) -> list[Check]:
    """One notification per routing decision to a demo owner, each sent, and each reached
    the mail sink once (repeated messages are counted and dropped by Message-ID)."""
    engine = make_engine(database_url)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            async with engine.connect() as connection:
                routed = await connection.scalar(
                    text(
                        "SELECT count(*) FROM ops.event_log "
                        "WHERE type = 'leadflow.lead.routed.v1' AND owner_id = ANY(:o)"
                    ),
                    {"o": DEMO_OWNERS},
                )
                assigned = await connection.scalar(
                    text(
                        "SELECT count(DISTINCT key) FROM ops.notifications WHERE kind = 'assigned'"
                    )
                )
                rows = (
                    await connection.execute(
                        text(
                            "SELECT key || ' ' || recipient_id, status FROM ops.notifications "
                            "WHERE channel = 'email'"
                        )
                    )
                ).all()
            by_id = inbox.by_message_id()
            received = [
                f"{key} {recipient}"
                for message in by_id.values()
                for key in carried(message)
                for recipient in [_recipient(message)]
            ]
            expected = {row[0] for row in rows}
            sent = sum(row[1] == "sent" for row in rows)
            settled = sent == len(rows) and set(received) == expected
            if settled or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
    finally:
        await engine.dispose()
    repeats = len(inbox.messages) - len(by_id)
    return [
        Check(
            "notifications: one per routing decision to a demo owner",
            ok=assigned == routed,
            found=f"{assigned} of {routed}",
        ),
        Check(
            "email notifications sent, and received by the mail sink once each",
            ok=sent == len(rows) and set(received) == expected and len(received) == len(expected),
            found=f"{len(set(received) & expected)} of {len(expected)} received ({sent} sent; "
            f"{len(by_id)} messages, repeats dropped {repeats}, unknown "
            f"{len(set(received) - expected)})",
        ),
    ]


def _recipient(message: Any) -> str:
    """The owner id a demo owner's address is for (``dana.ortiz@example.com``: own-dana)."""
    local = str(message["To"]).split("@", 1)[0]
    return "ops" if local == "ops" else f"own-{local.split('.', 1)[0]}"


async def _every_lead_kept_once(database_url: str, run: int, tally: Tally) -> Check:
    """Every lead the driver saw accepted, through any channel, is in intake once."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            per_email = (
                await connection.execute(
                    text(
                        "SELECT count(DISTINCT email), count(*) FROM intake.leads "
                        "WHERE email LIKE :pattern"
                    ),
                    {"pattern": f"chaos%-{run}@%"},
                )
            ).one()
    finally:
        await engine.dispose()
    distinct, rows = per_email
    return Check(
        "leads accepted by intake, stored once each",
        ok=distinct == tally.accepted and rows == distinct,
        found=f"{distinct} of {tally.accepted} ({rows} rows)",
    )


async def _every_event_delivered_once(
    database_url: str, tally: Tally, receiver: Receiver, timeout_s: float
) -> list[Check]:
    """Every event logged after the subscription reached the receiver (verified, counted
    once by ``webhook-id``), and has one delivery, delivered. Waits for the sender to
    finish, up to ``timeout_s``."""
    subscription_id, position = tally.webhook
    engine = make_engine(database_url)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            async with engine.connect() as connection:
                logged = {
                    str(row[0])
                    for row in await connection.execute(
                        text(
                            "SELECT event_id FROM ops.event_log "
                            "WHERE seq > :p AND type = ANY(:types)"
                        ),
                        {"p": position, "types": HOOKED},
                    )
                }
                total, distinct, delivered = (
                    await connection.execute(
                        text(
                            "SELECT count(*), count(DISTINCT event_id), count(*) FILTER "
                            "(WHERE status = 'delivered') FROM ops.webhook_deliveries "
                            "WHERE subscription_id = :s"
                        ),
                        {"s": subscription_id},
                    )
                ).one()
            received = set(receiver.kept)
            if (received == logged and delivered == len(logged)) or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
    finally:
        await engine.dispose()
    return [
        Check(
            "routing and credit events logged after the subscription, received by the webhook "
            "receiver once each",
            ok=received == logged and receiver.bad_signatures == 0,
            found=f"{len(received & logged)} of {len(logged)} (unknown {len(received - logged)}, "
            f"bad signatures {receiver.bad_signatures}, repeats dropped {receiver.repeats}, "
            f"requests {receiver.requests})",
        ),
        Check(
            "webhook deliveries: one per logged event, each delivered",
            ok=total == distinct == delivered == len(logged),
            found=f"{delivered} delivered of {total} ({distinct} events)",
        ),
    ]


def run(
    work: Path,
    *,
    leads: int,
    concurrency: int = 16,
    rate: float = 60,
    kill_every_s: float = 8,
    freeze_s: float = 20,
    outage_every: int = 3,
    seed: int = 7,
    settle_s: float = 240,
) -> tuple[Tally, list[Check], list[tuple[str, int]]]:
    token = ADMIN
    run = time.time_ns()
    with (
        start_infra(work) as infra,
        receiver_in_thread(fail_every=10) as receiver,
        mail_sink() as (sink, inbox),
    ):
        instances = _instances(infra, work, token, sink.port)
        try:
            tally = asyncio.run(
                _chaos_run(
                    infra,
                    instances,
                    token,
                    receiver,
                    leads=leads,
                    concurrency=concurrency,
                    rate=rate,
                    kill_every_s=kill_every_s,
                    freeze_s=freeze_s,
                    outage_every=outage_every,
                    seed=seed,
                    run=run,
                )
            )
            checks, counts = reconcile_until_settled(infra.settings(), timeout_s=settle_s)
            checks.append(asyncio.run(_every_lead_kept_once(infra.database_url, run, tally)))
            checks += asyncio.run(
                _every_event_delivered_once(infra.database_url, tally, receiver, settle_s)
            )
            checks += asyncio.run(
                _every_notification_mailed_once(infra.database_url, inbox, settle_s)
            )
        finally:
            for instance in instances:
                instance.stop()
    return tally, checks, counts


def render(tally: Tally, checks: list[Check], counts: list[tuple[str, int]]) -> str:
    lines = [
        f"leads accepted: {tally.accepted} (channels: {', '.join(sorted(set(CHANNELS)))}), "
        f"touches: {tally.touches}, meetings held: {tally.meetings}, "
        f"CSV imports: {tally.imports} (re-imported after a kill: {tally.reimports}); "
        f"client retries {tally.retried}; "
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
    parser.add_argument("--freeze", type=float, default=20, help="seconds the broker stays frozen")
    parser.add_argument(
        "--outage-every",
        type=int,
        default=3,
        help="kills between outages (the broker frozen and PostgreSQL restarted in turn)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--settle", type=float, default=600, help="seconds allowed to drain after the load"
    )
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
            outage_every=args.outage_every,
            seed=args.seed,
            settle_s=args.settle,
        )
    print(render(tally, checks, counts))
    sys.exit(0 if all(c.ok for c in checks) and tally.accepted == args.leads else 1)


if __name__ == "__main__":
    main()
