"""The notifications' queries (tables in ``services.ops.tables``): the notifier's cursor
into the event log, what the log knows for a message (the owner directory, who a lead is
and who owns it, a lead's credit states), the queue and each recipient's pace. No rules
(those are in ``domain.notifications``); every statement is set-based, a batch at a time.

The cursor moves and the notifications of the events it passed are written in one
transaction, so each event is told once (``(key, recipient_id, channel)`` is unique
besides). A notification due is claimed under a lease: a notifier that dies mid-send
leaves it to be sent again when the lease runs out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from services.ops.domain.notifications import (
    CREDIT,
    OWNER_UPDATED,
    RECEIVED,
    ROUTED,
    Event,
    LeadSummary,
    Recipient,
    Routing,
    recipient_from_directory,
)

PENDING, SENT, FAILED = "pending", "sent", "failed"


@dataclass(frozen=True)
class Logged:
    seq: int
    event: Event


async def cursor(conn: asyncpg.Connection) -> int:
    found = await conn.fetchval("SELECT after_seq FROM ops.notify_cursor WHERE id = 1 FOR UPDATE")
    if found is None:  # made by the migration; a database restored without it starts over
        await conn.execute("INSERT INTO ops.notify_cursor (id, after_seq) VALUES (1, 0)")
        return 0
    return int(found)


async def move_cursor(conn: asyncpg.Connection, to: int) -> None:
    await conn.execute("UPDATE ops.notify_cursor SET after_seq = $1 WHERE id = 1", to)


async def last_seq(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT coalesce(max(seq), 0) FROM ops.event_log"))


async def events_between(
    conn: asyncpg.Connection, after: int, up_to: int, types: Iterable[str], limit: int
) -> list[Logged]:
    rows = await conn.fetch(
        "SELECT seq, event_id, type, time, lead_id, data FROM ops.event_log "
        "WHERE seq > $1 AND seq <= $2 AND type = ANY($3::text[]) ORDER BY seq LIMIT $4",
        after,
        up_to,
        sorted(types),
        limit,
    )
    return [
        Logged(r["seq"], Event(r["event_id"], r["type"], r["time"], r["lead_id"], _data(r)))
        for r in rows
    ]


def _data(row: asyncpg.Record) -> dict[str, object]:
    data = row["data"]
    return json.loads(data) if isinstance(data, str) else dict(data)


async def directory(conn: asyncpg.Connection, owner_ids: Iterable[str]) -> dict[str, Recipient]:
    """Each owner's latest ``owner.updated`` (an owner never published is not here)."""
    ids = sorted(set(owner_ids))
    if not ids:
        return {}
    rows = await conn.fetch(
        "SELECT DISTINCT ON (owner_id) owner_id, data FROM ops.event_log "
        "WHERE type = $1 AND owner_id = ANY($2::text[]) ORDER BY owner_id, seq DESC",
        OWNER_UPDATED,
        ids,
    )
    return {r["owner_id"]: recipient_from_directory(_data(r)) for r in rows}


async def lead_summaries(
    conn: asyncpg.Connection, lead_ids: Iterable[UUID]
) -> dict[UUID, LeadSummary]:
    ids = sorted(set(lead_ids), key=str)
    if not ids:
        return {}
    rows = await conn.fetch(
        "SELECT DISTINCT ON (lead_id) lead_id, data->>'email' AS email, data->>'name' AS name,"
        " data->>'company' AS company FROM ops.event_log "
        "WHERE lead_id = ANY($1::uuid[]) AND type = $2 ORDER BY lead_id, seq",
        ids,
        RECEIVED,
    )
    return {r["lead_id"]: LeadSummary(r["email"], r["name"], r["company"]) for r in rows}


async def routings(conn: asyncpg.Connection, lead_ids: Iterable[UUID]) -> dict[UUID, Routing]:
    """Each lead's latest routing decision: its owner (None: a queue) and explanation."""
    ids = sorted(set(lead_ids), key=str)
    if not ids:
        return {}
    rows = await conn.fetch(
        "SELECT DISTINCT ON (lead_id) lead_id, owner_id, data->>'explanation' AS explanation"
        " FROM ops.event_log WHERE lead_id = ANY($1::uuid[]) AND type = $2"
        " ORDER BY lead_id, seq DESC",
        ids,
        ROUTED,
    )
    return {r["lead_id"]: Routing(r["owner_id"], r["explanation"] or "") for r in rows}


async def previous_credit_states(
    conn: asyncpg.Connection, decisions: Sequence[Logged]
) -> dict[UUID, str]:
    """For each credit decision given, the state of the decision of its lead before it
    (in log order); a lead's first decision has none."""
    if not decisions:
        return {}
    rows = await conn.fetch(
        "SELECT lead_id, seq, data->>'state' AS state FROM ops.event_log "
        "WHERE lead_id = ANY($1::uuid[]) AND type = $2 AND seq <= $3 ORDER BY lead_id, seq",
        sorted({d.event.lead_id for d in decisions if d.event.lead_id}, key=str),
        CREDIT,
        max(d.seq for d in decisions),
    )
    history: dict[UUID, list[tuple[int, str]]] = {}
    for r in rows:
        history.setdefault(r["lead_id"], []).append((r["seq"], r["state"]))
    found: dict[UUID, str] = {}
    for d in decisions:
        earlier = [state for seq, state in history.get(d.event.lead_id or UUID(int=0), [])
                   if seq < d.seq]  # fmt: skip
        if earlier:
            found[d.event.event_id] = earlier[-1]
    return found


@dataclass(frozen=True)
class NewNotification:
    key: str
    event_id: UUID
    kind: str
    recipient_id: str
    channel: str
    address: str
    lead_id: UUID | None
    title: str
    sentence: str
    urgent: bool
    occurred_at: datetime
    due_at: datetime


_ENQUEUE = """
INSERT INTO ops.notifications (key, event_id, kind, recipient_id, channel, address, lead_id,
                               title, sentence, urgent, occurred_at, status, next_attempt_at)
SELECT n.key, n.event_id, n.kind, n.recipient_id, n.channel, n.address, n.lead_id, n.title,
       n.sentence, n.urgent, n.occurred_at, 'pending', n.due_at
FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::uuid[], $8::text[], $9::text[], $10::bool[], $11::timestamptz[],
            $12::timestamptz[])
     AS n(key, event_id, kind, recipient_id, channel, address, lead_id, title, sentence,
          urgent, occurred_at, due_at)
ON CONFLICT ON CONSTRAINT uq_ops_notification_key DO NOTHING
"""


async def enqueue(conn: asyncpg.Connection, rows: Sequence[NewNotification]) -> int:
    if not rows:
        return 0
    status = await conn.execute(
        _ENQUEUE,
        [r.key for r in rows],
        [r.event_id for r in rows],
        [r.kind for r in rows],
        [r.recipient_id for r in rows],
        [r.channel for r in rows],
        [r.address[:2000] for r in rows],
        [r.lead_id for r in rows],
        [r.title[:500] for r in rows],
        [r.sentence[:2000] for r in rows],
        [r.urgent for r in rows],
        [r.occurred_at for r in rows],
        [r.due_at for r in rows],
    )
    return int(status.rsplit(" ", 1)[-1])


@dataclass(frozen=True)
class Due:
    id: int
    key: str
    kind: str
    recipient_id: str
    channel: str
    address: str
    lead_id: UUID | None
    title: str
    sentence: str
    urgent: bool
    attempts: int
    first_attempt_at: datetime | None
    message_id: str | None  # given when first sent: a retry sends the same message


_CLAIM = """
WITH due AS (
    SELECT id FROM ops.notifications
     WHERE status = 'pending' AND next_attempt_at <= $1
       AND (leased_until IS NULL OR leased_until < $1)
     ORDER BY next_attempt_at, id
     LIMIT $3
       FOR UPDATE SKIP LOCKED
)
UPDATE ops.notifications n SET leased_until = $2 FROM due WHERE n.id = due.id
RETURNING n.id, n.key, n.kind, n.recipient_id, n.channel, n.address, n.lead_id, n.title,
          n.sentence, n.urgent, n.attempts, n.first_attempt_at, n.message_id
"""


async def claim_due(
    conn: asyncpg.Connection, *, now: datetime, lease: timedelta, limit: int
) -> list[Due]:
    rows = await conn.fetch(_CLAIM, now, now + lease, limit)
    return sorted((Due(**dict(r)) for r in rows), key=lambda d: d.id)


async def paces(
    conn: asyncpg.Connection, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], datetime]:
    wanted = sorted(set(pairs))
    if not wanted:
        return {}
    rows = await conn.fetch(
        "SELECT p.recipient_id, p.channel, p.last_sent_at FROM ops.notify_pace p "
        "JOIN unnest($1::text[], $2::text[]) AS w(recipient_id, channel) "
        "USING (recipient_id, channel) FOR UPDATE OF p",
        [w[0] for w in wanted],
        [w[1] for w in wanted],
    )
    return {(r["recipient_id"], r["channel"]): r["last_sent_at"] for r in rows}


async def set_paces(
    conn: asyncpg.Connection, pairs: Iterable[tuple[str, str]], at: datetime
) -> None:
    wanted = sorted(set(pairs))
    if not wanted:
        return
    await conn.execute(
        "INSERT INTO ops.notify_pace (recipient_id, channel, last_sent_at) "
        "SELECT r, c, $3 FROM unnest($1::text[], $2::text[]) AS w(r, c) "
        "ON CONFLICT (recipient_id, channel) DO UPDATE SET last_sent_at = excluded.last_sent_at",
        [w[0] for w in wanted],
        [w[1] for w in wanted],
        at,
    )


async def assign_messages(conn: asyncpg.Connection, message_ids: dict[int, str]) -> None:
    """The message each notification is about to go in, kept before it is sent: a retry,
    or a repeat after a notifier dies mid-send, sends the same message (same Message-ID,
    same notifications) and not a new digest of other ones."""
    if not message_ids:
        return
    ids = sorted(message_ids)
    await conn.execute(
        "UPDATE ops.notifications n SET message_id = m.message_id "
        "FROM unnest($1::bigint[], $2::text[]) AS m(id, message_id) WHERE n.id = m.id",
        ids,
        [message_ids[i] for i in ids],
    )


async def hold(conn: asyncpg.Connection, until: dict[int, datetime]) -> None:
    """Released from their claim, due again at the time given (the recipient's pace)."""
    if not until:
        return
    ids = sorted(until)
    await conn.execute(
        "UPDATE ops.notifications n SET next_attempt_at = h.at, leased_until = NULL "
        "FROM unnest($1::bigint[], $2::timestamptz[]) AS h(id, at) WHERE n.id = h.id",
        ids,
        [until[i] for i in ids],
    )


@dataclass(frozen=True)
class Outcome:
    id: int
    attempted_at: datetime
    sent: bool
    error: str | None
    message_id: str | None
    next_attempt_at: datetime | None  # a failure's retry; None: given up (or sent)


_OUTCOMES = """
UPDATE ops.notifications n
   SET status = CASE WHEN o.sent THEN 'sent'
                     WHEN o.next_attempt_at IS NULL THEN 'failed' ELSE 'pending' END,
       attempts = n.attempts + 1,
       first_attempt_at = coalesce(n.first_attempt_at, o.attempted_at),
       sent_at = CASE WHEN o.sent THEN o.attempted_at END,
       message_id = coalesce(o.message_id, n.message_id),
       last_error = o.error,
       next_attempt_at = coalesce(o.next_attempt_at, n.next_attempt_at),
       leased_until = NULL
  FROM unnest($1::bigint[], $2::timestamptz[], $3::bool[], $4::text[], $5::text[],
              $6::timestamptz[]) AS o(id, attempted_at, sent, error, message_id, next_attempt_at)
 WHERE n.id = o.id AND n.status = 'pending'
"""


async def record_outcomes(conn: asyncpg.Connection, outcomes: Sequence[Outcome]) -> None:
    if not outcomes:
        return
    await conn.execute(
        _OUTCOMES,
        [o.id for o in outcomes],
        [o.attempted_at for o in outcomes],
        [o.sent for o in outcomes],
        [o.error[:300] if o.error else None for o in outcomes],
        [o.message_id for o in outcomes],
        [o.next_attempt_at for o in outcomes],
    )


@dataclass(frozen=True)
class Listed:
    id: int
    kind: str
    recipient_id: str
    channel: str
    address: str
    lead_id: UUID | None
    title: str
    sentence: str
    status: str
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
    message_id: str | None
    occurred_at: datetime
    created_at: datetime


async def listed(
    conn: asyncpg.Connection,
    *,
    recipient_id: str | None,
    status: str | None,
    before_id: int | None,
    limit: int,
) -> list[Listed]:
    """The newest notifications first, optionally one recipient's or in one status."""
    rows = await conn.fetch(
        "SELECT id, kind, recipient_id, channel, address, lead_id, title, sentence, status,"
        " attempts, next_attempt_at, sent_at, last_error, message_id, occurred_at, created_at"
        " FROM ops.notifications"
        " WHERE ($1::text IS NULL OR recipient_id = $1) AND ($2::text IS NULL OR status = $2)"
        "   AND ($3::bigint IS NULL OR id < $3)"
        " ORDER BY id DESC LIMIT $4",
        recipient_id,
        status,
        before_id,
        limit,
    )
    return [Listed(**dict(r)) for r in rows]
