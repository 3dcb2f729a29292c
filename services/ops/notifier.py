"""Notifications to people at work, one loop per ops instance: the events of the log that
tell someone something become notifications (``domain.notifications.notices_for``, one per
recipient and channel), and the notifications due are sent, by email over SMTP and to
Slack-compatible incoming webhooks.

A pass of the loop:

1. *enqueue*: the events after the notifier's cursor, read with what the log knows for
   them (the owner directory from ``owner.updated``, who each lead is, who owns it), become
   notifications due when the recipient's business hours are open (a breach at once), and
   the cursor moves past them, in one transaction (one instance at a time: an advisory
   lock);
2. *claim*: the notifications due are leased; a recipient's channel that had a message in
   the last ``OPS_NOTIFY_DIGEST_S`` has its notifications held to the end of that time, the
   others' become one message each (a digest when there are several; a notification that
   already went in a message, a retry, goes in that one again), each notification keeps
   its message's id and the pace is reset, in one transaction;
3. *send*: the messages go out (one SMTP connection for the pass's email, the Slack posts
   concurrently) and each notification is marked sent, or retried with backoff and jitter
   until ``OPS_NOTIFY_GIVE_UP_AFTER_S``, or failed at once when the answer will not change
   (an SMTP 5xx, a Slack target production settings refuse).

A notifier that dies between sending and marking leaves its notifications to the next pass
after the lease: the same message again, with the same ``Message-ID`` and the same
notifications (their keys in ``X-Leadflow-Notifications``) for the receiver to drop the
repeat.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiosmtplib
import asyncpg
import httpx

from services.ops import notify_store
from services.ops.domain.notifications import (
    CREDIT,
    NEED_ROUTING,
    OPS,
    TOLD_OF,
    Context,
    Item,
    Message,
    Recipient,
    email,
    mentioned,
    notices_for,
    paced_until,
    send_after,
    slack,
)
from services.ops.domain.webhooks import RetryPolicy, TargetRefused, retry_at
from services.ops.live import NewEvents, run_passes
from services.ops.notify_store import Due, Logged, NewNotification, Outcome
from services.ops.settings import OpsSettings
from services.ops.webhook_sender import check_reachable
from shared.db import SessionFactory, driver_connection, lock, try_lock
from shared.events.envelope import utcnow
from shared.observability import NOTIFICATIONS, NOTIFY_MESSAGES, get_logger

log = get_logger(__name__)

_ENQUEUE_LOCK = "ops.notify.enqueue"
_CLAIM_LOCK = "ops.notify.claim"
ENQUEUE_BATCH = 1000  # events looked at per pass
Group = Sequence[Due]  # the notifications one message carries


@dataclass
class Notifier:
    sessions: SessionFactory
    settings: OpsSettings
    new_events: NewEvents | None = None
    clock: Callable[[], datetime] = utcnow
    random: Callable[[], float] = random.random
    _client: httpx.AsyncClient | None = field(default=None, repr=False)

    @property
    def ops(self) -> Recipient:
        return Recipient(
            OPS,
            "Leadflow ops",
            email=self.settings.notify_ops_email,
            slack_webhook_url=self.settings.notify_ops_slack_url,
        )

    @property
    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            first_delay=timedelta(seconds=self.settings.notify_first_retry_s),
            longest_delay=timedelta(seconds=self.settings.notify_longest_retry_s),
            give_up_after=timedelta(seconds=self.settings.notify_give_up_after_s),
        )

    async def run(self, stop: asyncio.Event) -> None:
        if not self.settings.smtp_host:
            log.info("notify_email_off", reason="OPS_SMTP_HOST is not set: Slack only")
        self._client = httpx.AsyncClient(
            timeout=self.settings.notify_timeout_s,
            follow_redirects=False,
            headers={"user-agent": "Leadflow-Notifications/1"},
        )
        try:
            await run_passes(
                stop,
                self._pass,
                name="notify",
                new_events=self.new_events,
                poll_s=self.settings.notify_poll_s,
            )
        finally:
            await self._client.aclose()
            self._client = None

    async def _pass(self) -> bool:
        enqueued_all = await self.enqueue_new() < ENQUEUE_BATCH
        return await self.send_due() >= self.settings.notify_batch or not enqueued_all

    # --- 1. enqueue ----------------------------------------------------------------------

    async def enqueue_new(self) -> int:
        """The events after the cursor, as notifications; how many events were looked at."""
        async with self.sessions() as session, session.begin():
            conn = await driver_connection(session)
            if not await try_lock(conn, [_ENQUEUE_LOCK]):
                return 0  # another instance is at it
            after = await notify_store.cursor(conn)
            up_to = await notify_store.last_seq(conn)
            if up_to <= after:
                return 0
            logged = await notify_store.events_between(conn, after, up_to, TOLD_OF, ENQUEUE_BATCH)
            if logged:
                rows = self._notifications(logged, await self._context(conn, logged))
                await notify_store.enqueue(conn, rows)
            moved_to = logged[-1].seq if len(logged) == ENQUEUE_BATCH else up_to
            await notify_store.move_cursor(conn, moved_to)
        return len(logged)

    async def _context(self, conn: asyncpg.Connection, logged: Sequence[Logged]) -> Context:
        events = [entry.event for entry in logged]
        routings = await notify_store.routings(
            conn, {e.lead_id for e in events if e.type in NEED_ROUTING and e.lead_id}
        )
        owners = {r.owner_id for r in routings.values() if r.owner_id}
        names = owners.union(*(mentioned(e) for e in events))
        recipients = dict(await notify_store.directory(conn, names))
        recipients[OPS] = self.ops
        disputed = [entry for entry in logged if entry.event.type == CREDIT]
        return Context(
            recipients=recipients,
            leads=await notify_store.lead_summaries(conn, {e.lead_id for e in events if e.lead_id}),
            routings=routings,
            previous_credit=await notify_store.previous_credit_states(conn, disputed),
        )

    def _notifications(self, logged: Sequence[Logged], context: Context) -> list[NewNotification]:
        now, rows = self.clock(), []
        unaddressed: dict[str, int] = {}  # recipient -> notices nobody could be sent
        for entry in logged:
            for notice in notices_for(entry.event, context):
                recipient = context.recipients.get(notice.recipient_id)
                addresses = [
                    (channel, address)
                    for channel, address in (recipient.addresses() if recipient else [])
                    if channel != "email" or self.settings.smtp_host
                ]
                if recipient is None or not recipient.active or not addresses:
                    NOTIFICATIONS.labels("none", "unaddressed").inc()
                    unaddressed[notice.recipient_id] = unaddressed.get(notice.recipient_id, 0) + 1
                    continue
                due = send_after(recipient, notice, now)
                rows += [
                    NewNotification(
                        notice.key,
                        notice.event_id,
                        notice.kind,
                        notice.recipient_id,
                        channel,
                        address,
                        notice.lead_id,
                        notice.title,
                        notice.sentence,
                        notice.urgent,
                        notice.occurred_at,
                        due,
                    )
                    for channel, address in addresses
                ]
        if unaddressed:  # one line a pass, not one a lead (most owners may have no address)
            log.info(
                "notifications_unaddressed",
                count=sum(unaddressed.values()),
                recipients=sorted(unaddressed)[:10],
                hint="no address on the owner record (notify), or not in the directory",
            )
        return rows

    # --- 2. claim, 3. send ---------------------------------------------------------------

    async def send_due(self) -> int:
        """Claim the notifications due and send them; how many were claimed."""
        now = self.clock()
        async with self.sessions() as session, session.begin():
            conn = await driver_connection(session)
            # One claimer at a time, so two instances never both find a recipient's pace
            # free and send two messages in one interval.
            await lock(conn, [_CLAIM_LOCK])
            due = await notify_store.claim_due(
                conn,
                now=now,
                lease=timedelta(seconds=self.settings.notify_timeout_s * 3),
                limit=self.settings.notify_batch,
            )
            if not due:
                return 0
            every = timedelta(seconds=self.settings.notify_digest_s)
            groups = _grouped(due, digests=every > timedelta(0))
            pace = await notify_store.paces(
                conn, {(g[0].recipient_id, g[0].channel) for g in groups if not g[0].urgent}
            )
            held: dict[int, datetime] = {}
            sending: list[Group] = []
            for group in groups:
                first = group[0]
                until = (
                    None
                    if first.urgent or first.message_id  # a breach; a retry keeps its slot
                    else paced_until(pace.get((first.recipient_id, first.channel)), now, every)
                )
                if until is None:
                    sending.append(group)
                else:
                    held.update((d.id, until) for d in group)
            await notify_store.hold(conn, held)
            await notify_store.assign_messages(
                conn, {d.id: self._message(g).message_id for g in sending for d in g}
            )
            await notify_store.set_paces(
                conn,
                {
                    (g[0].recipient_id, g[0].channel)
                    for g in sending
                    if not g[0].urgent and g[0].message_id is None
                },
                now,
            )
        if sending:
            emails = [g for g in sending if g[0].channel == "email"]
            posts = [g for g in sending if g[0].channel == "slack"]
            sent = await asyncio.gather(self._emails(emails), *(self._post(g) for g in posts))
            outcomes = [o for batch in sent for o in batch]
            async with self.sessions() as session, session.begin():
                await notify_store.record_outcomes(await driver_connection(session), outcomes)
        return len(due)

    def _message(self, group: Group) -> Message:
        items = [
            Item(d.id, d.key, d.kind, d.lead_id, d.title, d.sentence)
            for d in sorted(group, key=lambda d: d.id)
        ]
        return Message(items, self.settings.public_url.rstrip("/"), group[0].message_id)

    async def _emails(self, groups: Sequence[Group]) -> list[Outcome]:
        """The pass's email on one SMTP connection, bounded in time as a whole (within the
        lease): what is not sent by then is retried."""
        if not groups:
            return []
        settings, outcomes = self.settings, []
        done = 0
        started = self.clock()
        try:
            async with asyncio.timeout(settings.notify_timeout_s * 2):
                smtp = aiosmtplib.SMTP(
                    hostname=settings.smtp_host,
                    port=settings.smtp_port,
                    use_tls=settings.smtp_security == "tls",
                    start_tls=settings.smtp_security == "starttls",
                    timeout=settings.notify_timeout_s,
                    username=settings.smtp_username,
                    password=settings.smtp_password.get_secret_value()
                    if settings.smtp_password
                    else None,
                )
                async with smtp:
                    for group in groups:
                        outcomes += await self._email(smtp, group)
                        done += 1
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            for group in groups[done:]:
                outcomes += self._outcomes(group, error, attempted_at=started)
        return outcomes

    async def _email(self, smtp: aiosmtplib.SMTP, group: Group) -> list[Outcome]:
        """One message on the pass's connection. The server's 5xx answer (no such mailbox,
        say) fails it at once; a 4xx (try later) is retried."""
        message = self._message(group)
        try:
            mail = email(
                message, sender=self.settings.notify_from, to=group[0].address, at=self.clock()
            )
            await smtp.send_message(mail)
        except ValueError as exc:  # an address or header no message can carry
            return self._outcomes(group, f"unsendable: {exc}", permanent=True)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refused.code for refused in exc.recipients]
            permanent = bool(codes) and all(code >= 500 for code in codes)
            return self._outcomes(group, f"recipient refused: {exc}", permanent=permanent)
        except aiosmtplib.SMTPResponseException as exc:  # this message only
            error = f"SMTP {exc.code}: {exc.message}"
            return self._outcomes(group, error, permanent=exc.code >= 500)
        return self._outcomes(group, None, message.message_id)

    async def _post(self, group: Group) -> list[Outcome]:
        """One Slack-compatible incoming webhook message."""
        message = self._message(group)
        url = group[0].address
        try:
            await check_reachable(url, self.settings.webhook_allow_private_targets)
            assert self._client is not None  # inside run()
            answer = await self._client.post(url, json=slack(message))
            if not 200 <= answer.status_code < 300:
                return self._outcomes(group, f"answered {answer.status_code}")
        except TargetRefused as exc:  # not a place this service may post to: no retry
            return self._outcomes(group, f"target refused: {exc}", permanent=True)
        except httpx.HTTPError as exc:
            return self._outcomes(group, f"{type(exc).__name__}: {exc}"[:300])
        return self._outcomes(group, None, message.message_id)

    def _outcomes(
        self,
        group: Group,
        error: str | None,
        message_id: str | None = None,
        attempted_at: datetime | None = None,
        *,
        permanent: bool = False,
    ) -> list[Outcome]:
        """Each notification's outcome: sent, due again at its retry, or (``permanent``, or
        retrying past the give-up time) failed."""
        at = attempted_at or self.clock()
        channel = group[0].channel
        if error is None:
            NOTIFY_MESSAGES.labels(channel).inc()
        else:
            log.warning("notification_retry", channel=channel, error=error, count=len(group))
        outcomes = []
        for due in group:
            retry = None
            if error is not None and not permanent:
                retry = retry_at(
                    self.policy,
                    attempts=due.attempts + 1,
                    first_attempt_at=due.first_attempt_at or at,
                    now=at,
                    random=self.random,
                )
            outcome = "sent" if error is None else "retry" if retry else "failed"
            NOTIFICATIONS.labels(channel, outcome).inc()
            outcomes.append(Outcome(due.id, at, error is None, error, message_id, retry))
        return outcomes


def _grouped(due: Sequence[Due], *, digests: bool) -> list[Group]:
    """The message each notification already went in, when it did (a retry: the same
    message again); else one message per recipient's channel and address (``digests``),
    or one each; an urgent notification always alone."""
    groups: dict[tuple[str, str, str], list[Due]] = {}
    again: dict[str, list[Due]] = {}
    alone: list[Group] = []
    for d in due:
        if d.message_id is not None:
            again.setdefault(d.message_id, []).append(d)
        elif d.urgent or not digests:
            alone.append([d])
        else:
            groups.setdefault((d.recipient_id, d.channel, d.address), []).append(d)
    return list(again.values()) + alone + list(groups.values())
