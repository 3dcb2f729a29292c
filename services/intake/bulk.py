"""Registering leads, many in one transaction with a few statements whatever their number:
the same person from the same source within the dedup window is a repeat touch of the lead
already registered, not a new lead. The one way intake registers a lead: a single lead
(``service.submit_lead``), a partner's batch, a CSV batch, and the concurrent single
leads the writer gathers (``writer.LeadWriter``) all come through ``register``.

Locks on the dedup scopes are taken in one statement, in hash order, so two batches
that share scopes wait for each other instead of deadlocking; each scope's first lead in
the window is read in one statement; the new leads, the repeat touches and their events
are one statement each."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.domain.dedup import dedup_scope, window_start
from services.intake.domain.normalize import NormalizedLead
from shared.db import driver_connection
from shared.events.envelope import utcnow
from shared.events.leads import LeadReceived
from shared.events.status import LeadDuplicate
from shared.events.topics import LEADS_RECEIVED, in_lane
from shared.outbox import Outbox, Outgoing

# Not shared.db.lock: every running instance locks scopes by hashtext in hash order; keep both.
_LOCK_SCOPES = (
    "SELECT count(pg_advisory_xact_lock(h)) FROM "
    "(SELECT DISTINCT hashtext(s) AS h FROM unnest($1::text[]) AS s ORDER BY h OFFSET 0) AS l"
)
_FIRST_LEADS = (
    "SELECT DISTINCT ON (dedup_scope) dedup_scope, id FROM intake.leads "
    "WHERE dedup_scope = ANY($1::text[]) AND received_at >= $2 "
    "ORDER BY dedup_scope, received_at"
)
_ADD_LEADS = (
    "INSERT INTO intake.leads (id, received_at, channel, source, campaign, email, "
    "email_domain, free_mail, name, company, title, phone, country, raw, firm_id, "
    "company_key, disposable, dedup_scope) SELECT * FROM unnest($1::uuid[], "
    "$2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], "
    "$8::bool[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], "
    "$14::jsonb[], $15::text[], $16::text[], $17::bool[], $18::text[])"
)
_ADD_TOUCHES = (
    "INSERT INTO intake.lead_touches (id, lead_id, received_at, channel, source, campaign, "
    "raw) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], "
    "$5::text[], $6::text[], $7::jsonb[])"
)


@dataclass(frozen=True)
class Registered:
    lead_id: UUID
    duplicate: bool


@dataclass(frozen=True)
class Entry:
    """One submission to register: the lead as normalized, its payload as sent, how it came
    in, and the trace context of the request that brought it (None: the current one)."""

    lead: NormalizedLead
    raw: Mapping[str, Any]
    channel: str
    firm_id: str | None = None
    trace: Mapping[str, str] | None = None
    received_at: datetime | None = None
    bulk: bool = False  # a CSV import's or a partner batch's: the bulk lane


@dataclass(frozen=True)
class Item:
    """A lead of a batch that came in one way (a partner's batch, a CSV batch)."""

    lead: NormalizedLead
    raw: dict[str, Any]


@dataclass
class _Rows:
    leads: list[tuple[Any, ...]]
    touches: list[tuple[Any, ...]]
    events: list[Outgoing]


async def register(
    conn: asyncpg.Connection, outbox: Outbox, entries: Sequence[Entry], *, window: timedelta
) -> list[Registered]:
    """Inside an open transaction (a session's: ``shared.db.driver_connection``): one result
    per entry, in order (a later entry of the same scope is a repeat of the earlier one)."""
    if not entries:
        return []
    now = utcnow()
    scopes = [dedup_scope(e.lead.email, e.lead.source, e.firm_id) for e in entries]
    distinct = sorted(set(scopes))
    await conn.fetchval(_LOCK_SCOPES, distinct)
    known: dict[str, UUID] = {
        scope: lead_id
        for scope, lead_id in await conn.fetch(_FIRST_LEADS, distinct, window_start(now, window))
    }
    rows = _Rows([], [], [])
    results = [
        _one(entry, scope, known, rows, now) for entry, scope in zip(entries, scopes, strict=True)
    ]
    if rows.leads:
        await conn.execute(_ADD_LEADS, *(list(column) for column in zip(*rows.leads, strict=True)))
    if rows.touches:
        await conn.execute(
            _ADD_TOUCHES, *(list(column) for column in zip(*rows.touches, strict=True))
        )
    await outbox.add_all(conn, rows.events)
    return results


def _one(
    entry: Entry, scope: str, known: dict[str, UUID], rows: _Rows, now: datetime
) -> Registered:
    lead, received_at = entry.lead, entry.received_at or now
    raw = json.dumps(entry.raw, separators=(",", ":"), default=str)
    existing = known.get(scope)
    if existing is not None:
        touch_id = uuid4()
        rows.touches.append(
            (touch_id, existing, received_at, entry.channel, lead.source, lead.campaign, raw)
        )
        duplicate = LeadDuplicate(
            lead_id=existing,
            submission_id=touch_id,
            channel=entry.channel,
            source=lead.source,
            campaign=lead.campaign,
            firm_id=entry.firm_id,
            received_at=received_at,
        )
        rows.events.append(Outgoing(duplicate, entry.trace, in_lane(LEADS_RECEIVED, entry.bulk)))
        return Registered(existing, duplicate=True)
    lead_id = uuid4()
    known[scope] = lead_id  # a later entry of this batch is a repeat of this one
    rows.leads.append(
        (
            lead_id,
            received_at,
            entry.channel,
            lead.source,
            lead.campaign,
            lead.email,
            lead.email_domain,
            lead.free_mail,
            lead.name,
            lead.company,
            lead.title,
            lead.phone,
            lead.country,
            raw,
            entry.firm_id,
            lead.company_key,
            lead.disposable,
            scope,
        )
    )
    received = LeadReceived(
        lead_id=lead_id,
        received_at=received_at,
        channel=entry.channel,
        source=lead.source,
        campaign=lead.campaign,
        firm_id=entry.firm_id,
        email=lead.email,
        email_domain=lead.email_domain,
        free_mail=lead.free_mail,
        name=lead.name,
        company=lead.company,
        title=lead.title,
        phone=lead.phone,
        country=lead.country,
    )
    rows.events.append(Outgoing(received, entry.trace, in_lane(LEADS_RECEIVED, entry.bulk)))
    return Registered(lead_id, duplicate=False)


async def submit_many(
    session: AsyncSession,
    outbox: Outbox,
    items: list[Item],
    *,
    channel: str,
    firm_id: str | None = None,
    window: timedelta,
    bulk: bool = True,
) -> list[Registered]:
    """Inside an open transaction: a batch that came in one way (the bulk lane unless
    told otherwise); one result per item."""
    entries = [Entry(item.lead, item.raw, channel, firm_id, bulk=bulk) for item in items]
    return await register(await driver_connection(session), outbox, entries, window=window)
