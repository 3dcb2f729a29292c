"""Writing the event log a batch at a time: every event of a poll in one transaction, in a
bounded number of statements whatever the batch's size (the lead's known firm and account
for all its events at once, the rows in one ``INSERT ... SELECT FROM unnest``, the
backfill of earlier events in one ``UPDATE ... FROM unnest``, one NOTIFY). Each event is
kept once: a repeat of its id changes nothing.

A lead's firm (for the partner's view: its submission or credit decision) and account (its
routing) reach its events that did not carry them, earlier ones included, so a firm sees
its leads' whole story however the topics interleave."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from pydantic_core import to_json
from sqlalchemy.ext.asyncio import AsyncSession

from services.ops.domain.extract import LEAD_ACCOUNT_SOURCES, LEAD_FIRM_SOURCES, indexed
from services.ops.tables import NOTIFY_CHANNEL
from shared.db import driver_connection
from shared.events.envelope import Envelope

# One writer at a time, on its own key (not shared.db.lock's: changing the key's lock id
# would let old and new instances write at once during a rolling deploy).
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('ops.event_log'))"
_KNOWN = """
SELECT l.lead_id,
       (SELECT e.firm_id FROM ops.event_log e
         WHERE e.lead_id = l.lead_id AND e.firm_id IS NOT NULL AND e.type = ANY($2::text[])
         ORDER BY e.seq DESC LIMIT 1),
       (SELECT e.account_id FROM ops.event_log e
         WHERE e.lead_id = l.lead_id AND e.account_id IS NOT NULL AND e.type = ANY($3::text[])
         ORDER BY e.seq DESC LIMIT 1)
FROM unnest($1::uuid[]) AS l(lead_id)
"""
_INSERT = """
INSERT INTO ops.event_log (event_id, type, topic, source, time, subject, lead_id, firm_id,
                           account_id, owner_id, channel, campaign, data)
SELECT r.event_id, r.type, r.topic, r.source, r.time, r.subject, r.lead_id, r.firm_id,
       r.account_id, r.owner_id, r.channel, r.campaign, r.data
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[],
            $7::uuid[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
            $13::jsonb[])
     WITH ORDINALITY AS r(event_id, type, topic, source, time, subject, lead_id, firm_id,
                          account_id, owner_id, channel, campaign, data, n)
ORDER BY r.n
ON CONFLICT (event_id) DO NOTHING
RETURNING seq, event_id
"""
# The rows whose firm or account would change, written as a row comparison and not as
# "(e.firm_id IS NULL AND ...) OR (e.account_id IS NULL AND ...)": from that form the
# planner derives "firm_id IS NULL OR account_id IS NULL" and, where the log has few live
# NULLs (a workspace of firms' leads), ANDs each lead's index probe with a scan of every
# NULL entry of the firm and account indexes, dead ones included (each backfill leaves
# one): a batch then cost O(log) until the next vacuum (2,600 -> 1,600 events/s over two
# bench runs, bench/ops_consumer.py --firms-only). Only the lead index can serve this one.
_BACKFILL = """
UPDATE ops.event_log e
   SET firm_id = coalesce(e.firm_id, v.firm_id), account_id = coalesce(e.account_id, v.account_id)
  FROM unnest($1::uuid[], $2::text[], $3::text[]) AS v(lead_id, firm_id, account_id)
 WHERE e.lead_id = v.lead_id
   AND (e.firm_id, e.account_id)
       IS DISTINCT FROM (coalesce(e.firm_id, v.firm_id), coalesce(e.account_id, v.account_id))
"""


@dataclass
class _Row:
    envelope: Envelope
    topic: str
    lead_id: UUID | None
    firm_id: str | None
    account_id: str | None
    owner_id: str | None
    channel: str | None
    campaign: str | None
    says_firm: bool
    says_account: bool


async def record_all(session: AsyncSession, events: Sequence[tuple[Envelope, str]]) -> int:
    """Keep each (envelope, topic) once, in order, in the caller's transaction. Returns how
    many were new."""
    if not events:
        return 0
    conn = await driver_connection(session)
    await conn.execute(_LOCK)  # one writer at a time: positions grow in commit order
    rows = [_row(envelope, topic) for envelope, topic in events]
    missing = sorted(
        {r.lead_id for r in rows if r.lead_id and not (r.firm_id and r.account_id)}, key=str
    )
    known: dict[UUID, tuple[str | None, str | None]] = {}
    if missing:
        found = await conn.fetch(
            _KNOWN, missing, sorted(LEAD_FIRM_SOURCES), sorted(LEAD_ACCOUNT_SOURCES)
        )
        known = {r[0]: (r[1], r[2]) for r in found}
    for row in rows:  # in order: an event earlier in the batch tells the later ones too
        if row.lead_id is None:
            continue
        firm, account = known.get(row.lead_id, (None, None))
        row.firm_id, row.account_id = row.firm_id or firm, row.account_id or account
        known[row.lead_id] = (
            row.firm_id if row.says_firm else firm,
            row.account_id if row.says_account else account,
        )
    inserted = await conn.fetch(
        _INSERT,
        [r.envelope.id for r in rows],
        [r.envelope.type[:200] for r in rows],
        [r.topic[:200] for r in rows],
        [r.envelope.source[:200] for r in rows],
        [r.envelope.time for r in rows],
        [r.envelope.subject[:300] if r.envelope.subject else None for r in rows],
        [r.lead_id for r in rows],
        [r.firm_id for r in rows],
        [r.account_id for r in rows],
        [r.owner_id for r in rows],
        [r.channel for r in rows],
        [r.campaign for r in rows],
        [to_json(r.envelope.data).decode() for r in rows],
    )
    if not inserted:
        return 0
    new = {r[1] for r in inserted}
    telling: dict[UUID, tuple[str | None, str | None]] = {}
    for row in rows:
        if row.envelope.id in new and row.lead_id and (row.says_firm or row.says_account):
            firm, account = telling.get(row.lead_id, (None, None))
            telling[row.lead_id] = (
                row.firm_id if row.says_firm else firm,
                row.account_id if row.says_account else account,
            )
    if telling:
        leads = list(telling)
        await conn.execute(
            _BACKFILL,
            leads,
            [telling[lead][0] for lead in leads],
            [telling[lead][1] for lead in leads],
        )
    await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, str(max(r[0] for r in inserted)))
    return len(inserted)


def _row(envelope: Envelope, topic: str) -> _Row:
    columns = indexed(envelope.data)
    return _Row(
        envelope,
        topic,
        columns.lead_id,
        columns.firm_id,
        columns.account_id,
        columns.owner_id,
        columns.channel,
        columns.campaign,
        says_firm=envelope.type in LEAD_FIRM_SOURCES and columns.firm_id is not None,
        says_account=envelope.type in LEAD_ACCOUNT_SOURCES and columns.account_id is not None,
    )
