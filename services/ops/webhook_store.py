"""The outbound webhooks' queries (tables in ``services.ops.tables``): subscriptions, the
durable queue of deliveries, and each attempt. No business rules (those are in
``domain.webhooks``); rows leave as the dataclasses below.

A subscription owns a cursor into the event log (``after_seq``): its matching events after
the cursor become deliveries and the cursor moves, in one transaction, so every matching
event gets exactly one delivery (``(subscription_id, event_id)`` is unique besides). A
delivery due is claimed by pushing its due time past a lease (``claim_due``): a sender that
dies mid-request leaves it to be tried again when the lease runs out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.ops.domain.stream_filter import StreamFilter, stream_filter
from services.ops.store import LOGGED_COLUMNS, LoggedEvent, last_seq
from services.ops.tables import (
    event_log,
    webhook_attempts,
    webhook_deliveries,
    webhook_subscriptions,
)
from shared.db import driver_connection

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
STATUSES = (PENDING, DELIVERED, FAILED)

# The hot statements, set-based: a batch's deliveries, attempts and outcomes one each.
_ENQUEUE = """
INSERT INTO ops.webhook_deliveries (subscription_id, seq, event_id, type, status, next_attempt_at)
SELECT $1, e.seq, e.event_id, e.type, 'pending', $5
FROM unnest($2::bigint[], $3::uuid[], $4::text[]) AS e(seq, event_id, type)
ON CONFLICT ON CONSTRAINT uq_ops_webhook_delivery_event DO NOTHING
RETURNING id
"""
_ATTEMPTS = """
INSERT INTO ops.webhook_attempts (delivery_id, attempted_at, ok, status_code, error, latency_ms)
SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::bool[], $4::int[], $5::text[],
                     $6::int[])
"""
# A delivery moves on only if it is still as claimed: a redelivery asked while it was in
# flight (its due time reset) is not overwritten.
_MOVE_ON = """
UPDATE ops.webhook_deliveries d
   SET status = o.status,
       attempts = d.attempts + 1,
       first_attempt_at = coalesce(d.first_attempt_at, o.attempted_at),
       last_attempt_at = o.attempted_at,
       last_status_code = o.status_code,
       next_attempt_at = o.next_attempt_at,
       delivered_at = CASE WHEN o.status = 'delivered' THEN o.attempted_at END
  FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::int[], $5::timestamptz[],
              $6::timestamptz[])
       AS o(id, status, attempted_at, status_code, next_attempt_at, leased_until)
 WHERE d.id = o.id AND d.next_attempt_at = o.leased_until
"""


@dataclass(frozen=True)
class Subscription:
    id: UUID
    url: str
    description: str | None
    types: list[str]
    owner_firm_id: str | None  # a partner firm's subscription: its own events only
    firm_id: str | None  # an ops subscription's filter to one firm
    after_seq: int
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None
    created_by: str
    created_at: datetime

    def filter(self) -> StreamFilter:
        """What it receives: what the same caller's event stream would show."""
        return stream_filter(
            types=self.types, firm=self.firm_id, account=None, viewer_firm=self.owner_firm_id
        )


_SUBSCRIPTION_COLUMNS = (
    webhook_subscriptions.c.id,
    webhook_subscriptions.c.url,
    webhook_subscriptions.c.description,
    webhook_subscriptions.c.types,
    webhook_subscriptions.c.owner_firm_id,
    webhook_subscriptions.c.firm_id,
    webhook_subscriptions.c.after_seq,
    webhook_subscriptions.c.failing_since,
    webhook_subscriptions.c.disabled_at,
    webhook_subscriptions.c.disabled_reason,
    webhook_subscriptions.c.created_by,
    webhook_subscriptions.c.created_at,
)


def _subscription(row: Any) -> Subscription:
    return Subscription(*row)


Owner = str | None  # the partner firm, or None for ops (which sees every subscription)


def _owned(owner: Owner, *, ops_sees_all: bool = True) -> list[Any]:
    if owner is None:
        return [] if ops_sees_all else [webhook_subscriptions.c.owner_firm_id.is_(None)]
    return [webhook_subscriptions.c.owner_firm_id == owner]


async def create_subscription(
    session: AsyncSession,
    *,
    subscription_id: UUID,
    url: str,
    description: str | None,
    types: Sequence[str],
    owner_firm_id: str | None,
    firm_id: str | None,
    secret: str,
    created_by: str,
) -> Subscription:
    """A new subscription that receives the matching events logged from now on."""
    row = (
        await session.execute(
            insert(webhook_subscriptions)
            .values(
                id=subscription_id,
                url=url,
                description=description,
                types=list(types),
                owner_firm_id=owner_firm_id,
                firm_id=firm_id,
                secret=secret,
                after_seq=await last_seq(session),
                created_by=created_by,
            )
            .returning(*_SUBSCRIPTION_COLUMNS)
        )
    ).one()
    return _subscription(row)


async def subscriptions(session: AsyncSession, owner: Owner) -> list[Subscription]:
    rows = await session.execute(
        select(*_SUBSCRIPTION_COLUMNS)
        .where(*_owned(owner))
        .order_by(webhook_subscriptions.c.created_at, webhook_subscriptions.c.id)
    )
    return [_subscription(r) for r in rows]


async def get_subscription(
    session: AsyncSession, subscription_id: UUID, owner: Owner, *, for_update: bool = False
) -> Subscription | None:
    """The subscription, if ``owner`` may see it (another firm's is as good as missing)."""
    query = select(*_SUBSCRIPTION_COLUMNS).where(
        webhook_subscriptions.c.id == subscription_id, *_owned(owner)
    )
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    return _subscription(row) if row is not None else None


async def delete_subscription(session: AsyncSession, subscription_id: UUID) -> None:
    """With its deliveries and their attempts (cascade)."""
    await session.execute(
        delete(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
    )


async def set_enabled(session: AsyncSession, subscription_id: UUID) -> None:
    """Enabled again: its failure clock restarts and it goes on from where it stopped."""
    await session.execute(
        update(webhook_subscriptions)
        .where(webhook_subscriptions.c.id == subscription_id)
        .values(disabled_at=None, disabled_reason=None, failing_since=None)
    )


# --- the queue --------------------------------------------------------------------------


async def active_subscriptions(session: AsyncSession) -> list[Subscription]:
    rows = await session.execute(
        select(*_SUBSCRIPTION_COLUMNS)
        .where(webhook_subscriptions.c.disabled_at.is_(None))
        .order_by(webhook_subscriptions.c.id)
        .with_for_update(skip_locked=True)
    )
    return [_subscription(r) for r in rows]


async def enqueue(
    session: AsyncSession,
    subscription: Subscription,
    events: Sequence[LoggedEvent],
    *,
    looked_up_to: int,
    now: datetime,
) -> int:
    """One delivery per event (due now), and the cursor moved to ``looked_up_to`` (the
    last position read, matching or not). Returns the deliveries made."""
    made = 0
    if events:
        conn = await driver_connection(session)
        made = len(
            await conn.fetch(
                _ENQUEUE,
                subscription.id,
                [e.seq for e in events],
                [e.event_id for e in events],
                [e.type for e in events],
                now,
            )
        )
    await session.execute(
        update(webhook_subscriptions)
        .where(webhook_subscriptions.c.id == subscription.id)
        .values(after_seq=looked_up_to)
    )
    return made


@dataclass(frozen=True)
class Due:
    """A delivery to attempt now, with what it sends."""

    delivery_id: int
    subscription_id: UUID
    url: str
    secret: str
    attempts: int
    first_attempt_at: datetime | None
    event: LoggedEvent
    leased_until: datetime


async def claim_due(
    session: AsyncSession, *, now: datetime, lease: timedelta, limit: int
) -> list[Due]:
    """The pending deliveries due by ``now`` of enabled subscriptions, oldest due first,
    each pushed ``lease`` into the future so no other sender takes it meanwhile."""
    d, s = webhook_deliveries, webhook_subscriptions
    due = (
        select(d.c.id)
        .join(s, s.c.id == d.c.subscription_id)
        .where(d.c.status == PENDING, d.c.next_attempt_at <= now, s.c.disabled_at.is_(None))
        .order_by(d.c.next_attempt_at, d.c.id)
        .limit(limit)
        .with_for_update(of=d, skip_locked=True)
        .scalar_subquery()
    )
    claimed = (
        await session.execute(
            update(d)
            .where(d.c.id.in_(due))
            .values(next_attempt_at=now + lease)
            .returning(d.c.id, d.c.subscription_id, d.c.attempts, d.c.first_attempt_at, d.c.seq)
        )
    ).all()
    if not claimed:
        return []
    targets = {
        row.id: (row.url, row.secret)
        for row in await session.execute(
            select(s.c.id, s.c.url, s.c.secret).where(
                s.c.id.in_({c.subscription_id for c in claimed})
            )
        )
    }
    events = {
        e.seq: e
        for e in (
            LoggedEvent(*row)
            for row in await session.execute(
                select(*LOGGED_COLUMNS).where(event_log.c.seq.in_([c.seq for c in claimed]))
            )
        )
    }
    return [
        Due(
            c.id,
            c.subscription_id,
            *targets[c.subscription_id],
            c.attempts,
            c.first_attempt_at,
            events[c.seq],
            now + lease,
        )
        for c in claimed
        if c.seq in events
    ]


@dataclass(frozen=True)
class Outcome:
    """One attempt's result and what follows from it (``domain.webhooks``)."""

    delivery_id: int
    subscription_id: UUID
    attempted_at: datetime
    ok: bool
    status_code: int | None
    error: str | None
    latency_ms: int
    next_attempt_at: datetime | None  # None with ok False: given up
    leased_until: datetime  # as claimed: a redelivery asked meanwhile is not overwritten


async def record_outcomes(session: AsyncSession, outcomes: Sequence[Outcome]) -> None:
    """Each attempt in the log and its delivery moved on (delivered, due again, failed),
    unless a redelivery was asked while it was in flight (then it is due again now); a
    subscription with a success stops failing, one with only failures starts to."""
    if not outcomes:
        return
    s = webhook_subscriptions
    conn = await driver_connection(session)
    await conn.execute(
        _ATTEMPTS,
        [o.delivery_id for o in outcomes],
        [o.attempted_at for o in outcomes],
        [o.ok for o in outcomes],
        [o.status_code for o in outcomes],
        [o.error for o in outcomes],
        [o.latency_ms for o in outcomes],
    )
    await conn.execute(
        _MOVE_ON,
        [o.delivery_id for o in outcomes],
        [
            DELIVERED if o.ok else PENDING if o.next_attempt_at is not None else FAILED
            for o in outcomes
        ],
        [o.attempted_at for o in outcomes],
        [o.status_code for o in outcomes],
        [o.next_attempt_at if not o.ok else None for o in outcomes],
        [o.leased_until for o in outcomes],
    )
    succeeded = {o.subscription_id for o in outcomes if o.ok}
    failed = {o.subscription_id: o.attempted_at for o in outcomes if not o.ok}
    if succeeded:
        await session.execute(update(s).where(s.c.id.in_(succeeded)).values(failing_since=None))
    only_failed = set(failed) - succeeded
    for subscription_id in only_failed:
        await session.execute(
            update(s)
            .where(s.c.id == subscription_id, s.c.failing_since.is_(None))
            .values(failing_since=failed[subscription_id])
        )


async def failing_since_of(
    session: AsyncSession, subscription_ids: set[UUID]
) -> dict[UUID, datetime]:
    """Since when each of these enabled subscriptions has had no delivery succeed."""
    if not subscription_ids:
        return {}
    s = webhook_subscriptions
    rows = await session.execute(
        select(s.c.id, s.c.failing_since).where(
            s.c.id.in_(subscription_ids), s.c.failing_since.is_not(None), s.c.disabled_at.is_(None)
        )
    )
    return {row.id: row.failing_since for row in rows}


async def disable(
    session: AsyncSession, subscription_id: UUID, *, at: datetime, reason: str
) -> Subscription | None:
    """Disabled now unless it already was; the subscription if this call disabled it."""
    s = webhook_subscriptions
    row = (
        await session.execute(
            update(s)
            .where(s.c.id == subscription_id, s.c.disabled_at.is_(None))
            .values(disabled_at=at, disabled_reason=reason[:300])
            .returning(*_SUBSCRIPTION_COLUMNS)
        )
    ).first()
    return _subscription(row) if row is not None else None


# --- the delivery log -------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    attempted_at: datetime
    ok: bool
    status_code: int | None
    error: str | None
    latency_ms: int


@dataclass(frozen=True)
class Delivery:
    id: int
    event_id: UUID
    seq: int
    type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    delivered_at: datetime | None
    created_at: datetime
    log: list[Attempt]


async def deliveries(
    session: AsyncSession,
    subscription_id: UUID,
    *,
    status: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Delivery]:
    """Newest first, each with its attempts (oldest first)."""
    d = webhook_deliveries
    where = [d.c.subscription_id == subscription_id]
    if status is not None:
        where.append(d.c.status == status)
    if before_id is not None:
        where.append(d.c.id < before_id)
    rows = (
        await session.execute(
            select(
                d.c.id,
                d.c.event_id,
                d.c.seq,
                d.c.type,
                d.c.status,
                d.c.attempts,
                d.c.next_attempt_at,
                d.c.last_attempt_at,
                d.c.last_status_code,
                d.c.delivered_at,
                d.c.created_at,
            )
            .where(*where)
            .order_by(d.c.id.desc())
            .limit(limit)
        )
    ).all()
    a = webhook_attempts
    attempts: dict[int, list[Attempt]] = {}
    if rows:
        for row in await session.execute(
            select(
                a.c.delivery_id,
                a.c.attempted_at,
                a.c.ok,
                a.c.status_code,
                a.c.error,
                a.c.latency_ms,
            )
            .where(a.c.delivery_id.in_([r.id for r in rows]))
            .order_by(a.c.delivery_id, a.c.id)
        ):
            attempts.setdefault(row.delivery_id, []).append(Attempt(*row[1:]))
    return [Delivery(*row, log=attempts.get(row.id, [])) for row in rows]


async def redeliver(
    session: AsyncSession, subscription_id: UUID, delivery_id: int, *, now: datetime
) -> bool:
    """Due again now, whatever its status (a new series of attempts: its log is kept);
    False when the subscription has no such delivery."""
    d = webhook_deliveries
    result = await session.execute(
        update(d)
        .where(and_(d.c.id == delivery_id, d.c.subscription_id == subscription_id))
        .values(status=PENDING, next_attempt_at=now, first_attempt_at=None, delivered_at=None)
        .returning(d.c.id)
    )
    return result.first() is not None
