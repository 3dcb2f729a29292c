"""From a routing decision to its owner's email accepted by an SMTP server, at a paced rate
of leads, through ops' real notifier; against a bare SMTP client's own latency to the
same server in the same run.

    .venv/bin/python -m bench.notify_latency [--rate 50] [--seconds 20] [--owners 50] [--runs 3]

Starts its own embedded PostgreSQL (migrated for ops) and a mail sink (aiosmtpd, the one
``leadflow up`` runs) in this process. Each run puts ``--owners`` owners in the directory
(``owner.updated``, with an address and round-the-clock hours), then keeps a lead's
``lead.received`` and ``lead.routed`` (to one of them, in turn) in the event log by the
real recording path, ``--rate`` leads a second, while ops' ``Notifier`` runs as in the
service (woken by the log's NOTIFY): each event found after the cursor, addressed from
the directory, queued, claimed, sent on one SMTP connection a pass, recorded. The latency
of a lead is the sink's acceptance of the message that carries its notification minus
the decision's time. Digests are off (``OPS_NOTIFY_DIGEST_S=0``: with them, what follows
an owner's first message waits for the interval by design). Not included: the hop from
the router's outbox through the broker to ops' event log (the pipeline bench's hops,
~50 ms at p50 on this machine).

The ceiling: aiosmtplib sending one message at a time on an open connection to the same
sink, the latency of each, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import threading
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from uuid import uuid4

import aiosmtplib

from bench.harness import migrated_database, print_runs
from services.ops.live import NewEvents
from services.ops.notifier import Notifier
from services.ops.recording import record_all
from services.ops.settings import OpsSettings
from shared.db import SessionFactory, asyncpg_dsn, make_engine, make_sessions
from shared.embedded import free_port
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from shared.events.owners import OwnerChannels, OwnerUpdated
from shared.events.routing import AccountMatch, LeadRouted, OwnerRef
from shared.mail_sink import MailSink

ALWAYS = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "opens": "00:00:00",
          "closes": "23:59:59"}  # fmt: skip


class Accepted:
    """When the sink accepted each notification key (``X-Leadflow-Notifications``)."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.messages = 0
        self._lock = threading.Lock()

    def keep(self, message: EmailMessage, at: float) -> None:
        keys = str(message.get("X-Leadflow-Notifications") or "")
        with self._lock:
            self.messages += 1
            for key in filter(None, (k.strip() for k in keys.split(","))):
                self.at.setdefault(key, at)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _lead(run: int, n: int, owner: str) -> tuple[list[tuple[Envelope, str]], str]:
    lead_id, now = uuid4(), datetime.now(UTC)
    received = LeadReceived(
        lead_id=lead_id, received_at=now, channel="api", source="bench",
        email=f"p{run}x{n}@initech.com", email_domain="initech.com", name=f"Pat {n}",
        company="Initech",
    ).envelope("/intake")  # fmt: skip
    routed = LeadRouted(
        lead_id=lead_id, revision=1, lead_received_at=now, decided_at=now, channel="api",
        account=AccountMatch(account_id="acc-initech", name="Initech", method="domain", score=1),
        owner=OwnerRef(owner_id=owner, name=owner, role="AE"), queue=None, flags=[],
        firm_assignment=None, ruleset_version="bench", trace=[],
        explanation=f"Routed to {owner} because account Initech is theirs.",
    ).envelope("/router")  # fmt: skip
    return [(received, "leads.received"), (routed, "leads.routed")], f"{routed.id}:assigned"


async def _one_run(
    sessions: SessionFactory, settings: OpsSettings, dsn: str, accepted: Accepted, run: int,
    *, rate: float, seconds: float, owners: int,
) -> tuple[tuple[float, float, float], int, int]:  # fmt: skip
    """((p50, p95, p99) ms, leads, messages)."""
    names = [f"bench-{run}-{k}" for k in range(owners)]
    async with sessions() as session, session.begin():
        await record_all(
            session,
            [
                (OwnerUpdated(
                    owner_id=name, name=name, role="AE", active=True, business_hours=ALWAYS,
                    notify=OwnerChannels(email=f"{name}@example.com"), updated_at=datetime.now(UTC),
                ).envelope("/router"), "owners.updated")
                for name in names
            ],
        )  # fmt: skip
    stop = asyncio.Event()
    new_events = NewEvents(dsn)
    listening = asyncio.create_task(new_events.listen(stop))
    notifier = Notifier(sessions, settings, new_events)
    running = asyncio.create_task(notifier.run(stop))
    await asyncio.sleep(0.5)  # the notifier's first pass over what came before
    decided: dict[str, float] = {}
    messages_before = accepted.messages
    total = int(rate * seconds)
    started = time.perf_counter()
    for n in range(total):
        due = started + n / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        events, key = _lead(run, n, names[n % owners])
        async with sessions() as session, session.begin():
            await record_all(session, events)
        decided[key] = time.time()
    deadline = time.monotonic() + 60
    while any(k not in accepted.at for k in decided) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    stop.set()
    await running
    await listening
    missing = [k for k in decided if k not in accepted.at]
    if missing:
        raise RuntimeError(f"{len(missing)} notifications never reached the sink")
    latency = [(accepted.at[k] - t) * 1000 for k, t in decided.items()]
    figures = (_pct(latency, 0.5), _pct(latency, 0.95), _pct(latency, 0.99))
    return figures, total, accepted.messages - messages_before


async def _bare(port: int, count: int) -> tuple[float, float, float]:
    """A bare client's latency per message, on an open connection, to the same sink."""
    latency: list[float] = []
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) as smtp:
        for n in range(count):
            mail = EmailMessage()
            mail["From"], mail["To"], mail["Subject"] = "b@x.test", "c@x.test", f"bare {n}"
            mail.set_content("A bare message of about the same size.\n" * 4)
            started = time.perf_counter()
            await smtp.send_message(mail)
            latency.append((time.perf_counter() - started) * 1000)
    return _pct(latency, 0.5), _pct(latency, 0.95), _pct(latency, 0.99)


async def _main(database_url: str, args: argparse.Namespace) -> None:
    accepted = Accepted()
    port = free_port()
    settings = OpsSettings(
        smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", notify_digest_s=0,
        notify_poll_s=1, public_url="http://127.0.0.1:8003",
    )  # fmt: skip
    engine = make_engine(database_url, pool_size=5)
    sessions = make_sessions(engine)
    ours: list[tuple[float, float, float]] = []
    bare: list[tuple[float, float, float]] = []
    per_lead: list[float] = []
    with MailSink(port=port, on_message=accepted.keep):
        try:
            for run in range(args.runs):
                figures, leads, messages = await _one_run(
                    sessions, settings, asyncpg_dsn(database_url), accepted, run,
                    rate=args.rate, seconds=args.seconds, owners=args.owners,
                )  # fmt: skip
                ceiling = await _bare(port, 500)
                ours.append(figures)
                bare.append(ceiling)
                per_lead.append(messages / leads)
                print(
                    f"run {run + 1}: p50/p95/p99 {figures[0]:.0f}/{figures[1]:.0f}/"
                    f"{figures[2]:.0f} ms ({leads} leads, {messages} messages); bare SMTP "
                    f"p99 {ceiling[2]:.1f} ms",
                    flush=True,
                )
        finally:
            with contextlib.suppress(Exception):
                await engine.dispose()
    print_runs(
        f"lead.routed -> email accepted by the SMTP server, {args.rate:g} leads/s paced for "
        f"{args.seconds:g} s over {args.owners} owners (digests off)",
        [
            ("latency p50 / p95 / p99, ms", ours, "{:.0f}"),
            ("bare SMTP send on an open connection, p50 / p95 / p99, ms (ceiling)", bare, "{:.1f}"),
            (
                "ours p99 / bare p99",
                [o[2] / b[2] for o, b in zip(ours, bare, strict=True)],
                "{:.0f}",
            ),
            ("messages per lead", per_lead, "{:.2f}"),
        ],
        markdown=args.markdown,
    )
    print(f"median p99 over runs: {statistics.median(o[2] for o in ours):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    with migrated_database(["ops"]) as url:
        asyncio.run(_main(url, args))


if __name__ == "__main__":
    main()
