"""The outbound webhooks at work, one loop per ops instance: new matching events become
deliveries (``webhook_store.enqueue``), and the deliveries due are attempted, signed per
Standard Webhooks, a batch at a time and concurrently; each attempt is logged and the
delivery moved on by the rules of ``domain.webhooks`` (delivered, retried later, failed),
and a subscription that keeps failing is disabled (with a ``leadflow.webhook.disabled.v1``
notice on ``ops.notices``, in the same transaction).

Instances share the work safely: one enqueues at a time (an advisory lock), and a
delivery is claimed under a lease, so two senders never attempt it at once and one that
dies mid-request leaves it to the next pass after the lease. A delivery may so arrive
twice; its ``webhook-id`` (the event's id) is the same each time, for the receiver to
drop the repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx

from services.ops import store, webhook_store
from services.ops.domain.webhooks import (
    RetryPolicy,
    TargetRefused,
    check_addresses,
    check_target,
    retry_at,
    should_disable,
    signed,
)
from services.ops.live import NewEvents, run_passes
from services.ops.settings import OpsSettings
from services.ops.webhook_store import Due, Outcome
from shared.db import SessionFactory, driver_connection, try_lock
from shared.events.envelope import utcnow
from shared.events.notices import WebhookDisabled
from shared.observability import (
    WEBHOOK_ATTEMPTS,
    WEBHOOK_LATENCY,
    WEBHOOKS_DISABLED,
    get_logger,
)
from shared.outbox import Outbox

log = get_logger(__name__)

_ENQUEUE_LOCK = "ops.webhooks.enqueue"
ANSWER_READ_LIMIT = 64 * 1024  # of a receiver's answer; beyond it the connection is dropped
ENQUEUE_BATCH = 500  # events read per subscription per pass


async def _drain(answer: httpx.Response) -> None:
    """Read and drop the answer's body so that its connection is kept for the next
    delivery; a receiver that answers more than ``ANSWER_READ_LIMIT`` loses it instead
    (never buffered: it cannot make the sender hold its answer)."""
    read = 0
    async for chunk in answer.aiter_raw():
        read += len(chunk)
        if read > ANSWER_READ_LIMIT:
            return


async def check_reachable(url: str, allow_private: bool) -> None:
    """The target as subscribed, and (unless private targets are allowed: development)
    the addresses its name resolves to now: a name that was public when subscribed may
    point inside later. Raises ``TargetRefused``."""
    check_target(url, allow_private=allow_private)
    if allow_private:
        return
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(parts.hostname, port)
    except OSError as exc:
        raise TargetRefused(f"{parts.hostname} does not resolve: {exc}") from exc
    check_addresses((str(info[4][0]) for info in found), allow_private=False)


@dataclass
class WebhookSender:
    sessions: SessionFactory
    settings: OpsSettings
    new_events: NewEvents | None = None
    outbox: Outbox | None = None  # where the WebhookDisabled notice goes (ops' outbox)
    clock: Callable[[], datetime] = utcnow
    random: Callable[[], float] = random.random
    _client: httpx.AsyncClient | None = field(default=None, repr=False)

    @property
    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            first_delay=timedelta(seconds=self.settings.webhook_first_retry_s),
            longest_delay=timedelta(seconds=self.settings.webhook_longest_retry_s),
            give_up_after=timedelta(seconds=self.settings.webhook_give_up_after_s),
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: a pass, then a wait for new events or ``webhook_poll_s``."""
        async with self._http():
            await run_passes(
                stop,
                self._pass,
                name="webhook",
                new_events=self.new_events,
                poll_s=self.settings.webhook_poll_s,
            )

    async def _pass(self) -> bool:
        await self.enqueue_new()
        return await self.send_due() >= self.settings.webhook_batch  # more are due

    @contextlib.asynccontextmanager
    async def _http(self) -> AsyncIterator[None]:
        self._client = httpx.AsyncClient(
            timeout=self.settings.webhook_timeout_s,
            follow_redirects=False,  # a redirect could lead anywhere, internal included
            # A connection kept per request in flight (a batch's), not re-opened each batch:
            # a remote receiver's rate is connections / its latency.
            limits=httpx.Limits(
                max_connections=self.settings.webhook_batch,
                max_keepalive_connections=self.settings.webhook_batch,
            ),
            headers={"user-agent": "Leadflow-Webhooks/1"},
        )
        try:
            yield
        finally:
            await self._client.aclose()
            self._client = None

    async def enqueue_new(self) -> int:
        """Every enabled subscription's matching events since its cursor, as deliveries."""
        made = 0
        async with self.sessions() as session, session.begin():
            if not await try_lock(await driver_connection(session), [_ENQUEUE_LOCK]):
                return 0  # another instance is at it
            up_to = await store.last_seq(session)
            now = self.clock()
            for subscription in await webhook_store.active_subscriptions(session):
                if subscription.after_seq >= up_to:
                    continue
                events = [
                    e
                    for e in await store.events_after(
                        session, subscription.after_seq, subscription.filter(), ENQUEUE_BATCH
                    )
                    if e.seq <= up_to
                ]
                looked_up_to = events[-1].seq if len(events) == ENQUEUE_BATCH else up_to
                made += await webhook_store.enqueue(
                    session, subscription, events, looked_up_to=looked_up_to, now=now
                )
        return made

    async def send_due(self) -> int:
        """Attempt a batch of the deliveries due; how many were attempted."""
        now = self.clock()
        lease = timedelta(seconds=self.settings.webhook_timeout_s * 3)
        async with self.sessions() as session, session.begin():
            due = await webhook_store.claim_due(
                session, now=now, lease=lease, limit=self.settings.webhook_batch
            )
        if not due:
            return 0
        outcomes = await asyncio.gather(*(self._attempt(d) for d in due))
        async with self.sessions() as session, session.begin():
            await webhook_store.record_outcomes(session, outcomes)
            failing = await webhook_store.failing_since_of(
                session, {o.subscription_id for o in outcomes if not o.ok}
            )
            disable_after = timedelta(seconds=self.settings.webhook_disable_after_s)
            for subscription_id, since in failing.items():
                if not should_disable(since, now, disable_after):
                    continue
                disabled = await webhook_store.disable(
                    session,
                    subscription_id,
                    at=now,
                    reason=f"no delivery succeeded since {since.isoformat()}",
                )
                if disabled is None:  # another instance was first
                    continue
                if self.outbox is not None:  # ops is told, in the same transaction
                    await self.outbox.add(
                        session,
                        WebhookDisabled(
                            subscription_id=disabled.id,
                            url=disabled.url,
                            firm_id=disabled.owner_firm_id,
                            failing_since=since,
                            disabled_at=now,
                            reason=disabled.disabled_reason or "",
                        ),
                    )
                WEBHOOKS_DISABLED.inc()
                log.warning(
                    "webhook_disabled",
                    subscription_id=str(subscription_id),
                    failing_since=since.isoformat(),
                )
        return len(due)

    async def _attempt(self, due: Due) -> Outcome:
        attempted_at = self.clock()
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        try:
            await check_reachable(due.url, self.settings.webhook_allow_private_targets)
            body = json.dumps(due.event.envelope_json(), separators=(",", ":")).encode()
            request = signed(
                due.secret, message_id=str(due.event.event_id), at=attempted_at, body=body
            )
            assert self._client is not None  # inside run()
            async with self._client.stream(
                "POST", due.url, content=request.body, headers=request.headers
            ) as answer:
                status_code = answer.status_code
                await _drain(answer)
            if not 200 <= status_code < 300:
                error = f"answered {status_code}"
        except TargetRefused as exc:
            error = f"target refused: {exc}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__
        elapsed = time.perf_counter() - started
        WEBHOOK_LATENCY.observe(elapsed)
        ok = error is None
        next_attempt_at = (
            None
            if ok
            else retry_at(
                self.policy,
                attempts=due.attempts + 1,
                first_attempt_at=due.first_attempt_at or attempted_at,
                now=attempted_at,
                random=self.random,
            )
        )
        WEBHOOK_ATTEMPTS.labels(
            "delivered" if ok else "retry" if next_attempt_at is not None else "failed"
        ).inc()
        return Outcome(
            due.delivery_id,
            due.subscription_id,
            attempted_at,
            ok,
            status_code,
            error,
            round(elapsed * 1000),
            next_attempt_at,
            due.leased_until,
        )
