"""Credit's decision-path queries, a batch at a time: each read for every lead of a batch
in one statement (``= ANY``, ``unnest``), each write one statement; sent straight to
asyncpg in the caller's transaction (``shared.db.driver_connection``). Also the few reads
of one lead the API needs, and the mapping from stored facts to the domain's
``LeadFacts``. The tables are in ``tables``; statement and report reads in
``report_queries``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.domain.contract import TOUCH_HORIZON_DAYS, Contract, Terms
from services.credit.domain.facts import (
    DisputeEvent,
    LeadFacts,
    MeetingEvent,
    Received,
    Routed,
    StatusEvent,
    Touch,
)
from services.credit.domain.tiers import MeetingPlace, month_of
from services.credit.tables import SCHEMA, backtests, contracts, decisions, facts
from shared.db import driver_connection, lock

__all__ = ["SCHEMA", "contracts", "decisions", "facts"]


# --- lock keys (``shared.db.lock``) ---------------------------------------------------

# The business keys credit locks (``domain:…``, ``lead:…``, ``claims:…``, ``contract:…``).
# Every path takes the kinds in the same order: domains, then leads, then claims.


def lead_key(lead_id: UUID) -> str:
    return f"lead:{lead_id}"


def domain_key(domain: str) -> str:
    return f"domain:{domain}"


# --- contracts (cached by version: a version is immutable) -----------------------------

_TERMS: dict[tuple[str, int], Terms] = {}


async def contracts_of(conn: asyncpg.Connection, firms: Iterable[str]) -> dict[str, Contract]:
    """Each firm's current contract: one read of the versions, the terms parsed once per
    version for the life of the process."""
    wanted = sorted(set(firms))
    if not wanted:
        return {}
    versions = await conn.fetch(
        "SELECT firm_id, max(version) FROM credit.contracts WHERE firm_id = ANY($1::text[]) "
        "GROUP BY firm_id",
        wanted,
    )
    missing = [(f, v) for f, v in versions if (f, v) not in _TERMS]
    if missing:
        rows = await conn.fetch(
            "SELECT c.firm_id, c.version, c.terms FROM credit.contracts c "
            "JOIN unnest($1::text[], $2::int[]) AS m(f, v) ON c.firm_id = m.f AND c.version = m.v",
            [f for f, _ in missing],
            [v for _, v in missing],
        )
        for firm, version, terms in rows:
            _TERMS[(firm, version)] = Terms.model_validate(terms)
    return {
        firm: Contract(firm_id=firm, version=version, terms=_TERMS[(firm, version)])
        for firm, version in versions
    }


async def current_contract(session: AsyncSession, firm_id: str) -> Contract | None:
    found = await contracts_of(await driver_connection(session), [firm_id])
    return found.get(firm_id)


async def add_contract(session: AsyncSession, firm_id: str, terms: Terms) -> Contract:
    """A new version; earlier versions stay, as decisions name them."""
    conn = await driver_connection(session)
    await lock(conn, [f"contract:{firm_id}"])
    latest = await conn.fetchval(
        "SELECT max(version) FROM credit.contracts WHERE firm_id = $1", firm_id
    )
    version = int(latest or 0) + 1
    await conn.execute(
        "INSERT INTO credit.contracts (firm_id, version, terms) VALUES ($1, $2, $3::jsonb)",
        firm_id,
        version,
        terms.model_dump_json(),
    )
    return Contract(firm_id=firm_id, version=version, terms=terms)


# --- facts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FactRow:
    event_id: UUID
    lead_id: UUID
    kind: str  # received, routed, meeting, status, dispute
    occurred_at: datetime
    data: Mapping[str, Any]
    email_domain: str | None = None


async def add_facts(conn: asyncpg.Connection, rows: Sequence[FactRow]) -> None:
    """Keep the facts as they come (a repeat of an event id changes nothing)."""
    if not rows:
        return
    await conn.execute(
        "INSERT INTO credit.facts (event_id, lead_id, kind, occurred_at, email_domain, data) "
        "SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], "
        "$5::text[], $6::jsonb[]) ON CONFLICT DO NOTHING",
        [r.event_id for r in rows],
        [r.lead_id for r in rows],
        [r.kind for r in rows],
        [r.occurred_at for r in rows],
        [r.email_domain for r in rows],
        [json.dumps(r.data, separators=(",", ":")) for r in rows],
    )


async def add_fact(session: AsyncSession, row: FactRow) -> None:
    await add_facts(await driver_connection(session), [row])


async def add_touches(conn: asyncpg.Connection, touches: Sequence[tuple[UUID, Touch]]) -> None:
    """(event id, touch) each; a repeat of an event id changes nothing."""
    if not touches:
        return
    await conn.execute(
        "INSERT INTO credit.touches (event_id, firm_id, email_domain, occurred_at) "
        "SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) "
        "ON CONFLICT DO NOTHING",
        [event_id for event_id, _ in touches],
        [t.firm_id for _, t in touches],
        [t.email_domain for _, t in touches],
        [t.occurred_at for _, t in touches],
    )


async def queue_leads_touches_bear_on(conn: asyncpg.Connection, touches: Sequence[Touch]) -> int:
    """Queue for review the leads each touch can change: the inbound leads of its domain
    received at or after it, inside the look-back horizon. A lead already queued stays
    queued once. Returns how many were queued."""
    if not touches:
        return 0
    status = await conn.execute(
        "INSERT INTO credit.review_queue (lead_id) "
        "SELECT DISTINCT f.lead_id FROM unnest($1::text[], $2::timestamptz[]) AS t(d, at) "
        "JOIN credit.facts f ON f.kind = 'received' AND f.email_domain = t.d "
        " AND f.occurred_at >= t.at AND f.occurred_at <= t.at + make_interval(days => $3) "
        " AND f.data->>'firm_id' IS NULL "
        "ON CONFLICT DO NOTHING",
        [t.email_domain for t in touches],
        [t.occurred_at for t in touches],
        TOUCH_HORIZON_DAYS,
    )
    return int(status.split()[-1])


async def queued_for_review(conn: asyncpg.Connection, limit: int) -> list[UUID]:
    """Leads a touch queued for review, oldest first."""
    rows = await conn.fetch(
        "SELECT lead_id FROM credit.review_queue ORDER BY queued_at LIMIT $1", limit
    )
    return [r[0] for r in rows]


async def take_from_review_queue(conn: asyncpg.Connection, leads: Sequence[UUID]) -> set[UUID]:
    """Remove the leads from the queue, in the transaction that re-decides them (before it
    reads their facts: a touch committed later queues them again). The ones that were
    there."""
    rows = await conn.fetch(
        "DELETE FROM credit.review_queue WHERE lead_id = ANY($1::uuid[]) RETURNING lead_id",
        list(leads),
    )
    return {r[0] for r in rows}


async def latest_own_touches(
    conn: asyncpg.Connection, wanted: Sequence[tuple[UUID, Received, str, int]]
) -> dict[UUID, Touch]:
    """For each (lead, its receipt, its firm, the look-back in days): the one touch the
    policy reads for an inbound lead — the firm's own latest on the lead's domain inside
    the look-back (SP3). Another firm's touches never bear on a lead."""
    if not wanted:
        return {}
    rows = await conn.fetch(
        "SELECT w.lead, (SELECT max(t.occurred_at) FROM credit.touches t "
        " WHERE t.email_domain = w.d AND t.firm_id = w.f AND t.occurred_at <= w.at "
        " AND t.occurred_at >= w.at - make_interval(days => w.days)) "
        "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::int[]) "
        "AS w(lead, d, f, at, days)",
        [lead for lead, _, _, _ in wanted],
        [r.email_domain for _, r, _, _ in wanted],
        [firm for _, _, firm, _ in wanted],
        [r.received_at for _, r, _, _ in wanted],
        [days for _, _, _, days in wanted],
    )
    found = {lead: (firm, r.email_domain) for lead, r, firm, _ in wanted}
    return {lead: Touch(found[lead][0], at, found[lead][1]) for lead, at in rows if at is not None}


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _lead_facts(
    lead_id: UUID, rows: Iterable[tuple[str, datetime, Mapping[str, Any]]]
) -> LeadFacts:
    received: Received | None = None
    routed: Routed | None = None
    meetings: list[MeetingEvent] = []
    statuses: list[StatusEvent] = []
    disputes: list[DisputeEvent] = []
    for kind, occurred_at, data in rows:
        if kind == "received":
            received = Received(
                occurred_at,
                data["channel"],
                data.get("firm_id"),
                data["email_domain"],
                frozenset(data.get("fields", [])),
                data.get("source", ""),
            )
        elif kind == "routed" and (routed is None or data["revision"] > routed.revision):
            routed = Routed(
                data["revision"],
                data.get("firm_id"),
                date.fromisoformat(data["starts_on"]) if data.get("starts_on") else None,
                data.get("account_name"),
                data.get("customer", False),
                data.get("cross_sell", False),
                data.get("in_notice", False),
                data.get("account_id"),
            )
        elif kind == "meeting":
            meetings.append(
                MeetingEvent(
                    UUID(data["meeting_id"]),
                    data["status"],
                    occurred_at,
                    _dt(data.get("reported_at")) or occurred_at,
                    _dt(data.get("scheduled_for")),
                    data.get("reported_by", "firm"),
                )
            )
        elif kind == "status":
            statuses.append(StatusEvent(data["stage"], data.get("reason_code"), occurred_at))
        elif kind == "dispute":
            disputes.append(
                DisputeEvent(data["kind"], occurred_at, data.get("comment", ""), data.get("by", ""))
            )
    return LeadFacts(
        lead_id, received, routed, (), tuple(meetings), tuple(statuses), tuple(disputes)
    )


async def lead_facts_of(conn: asyncpg.Connection, leads: Sequence[UUID]) -> dict[UUID, LeadFacts]:
    """Each lead's own facts (its domain's touches are read once its contract is known)."""
    rows = await conn.fetch(
        "SELECT lead_id, kind, occurred_at, data FROM credit.facts "
        "WHERE lead_id = ANY($1::uuid[]) ORDER BY occurred_at, event_id",
        list(leads),
    )
    grouped: dict[UUID, list[tuple[str, datetime, Mapping[str, Any]]]] = {
        lead: [] for lead in leads
    }
    for lead, kind, occurred_at, data in rows:
        grouped[lead].append((kind, occurred_at, data))
    return {lead: _lead_facts(lead, found) for lead, found in grouped.items()}


async def lead_facts(session: AsyncSession, lead_id: UUID) -> LeadFacts:
    return (await lead_facts_of(await driver_connection(session), [lead_id]))[lead_id]


# --- decisions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredDecision:
    lead_id: UUID
    revision: int
    routing_revision: int
    firm_id: str | None
    state: str
    amount: Decimal
    currency: str
    policy_version: str
    contract_version: str | None
    decided_at: datetime
    event: dict[str, Any]
    next_review_at: datetime | None


_DECISION_COLUMNS = (
    "lead_id, revision, routing_revision, firm_id, state, amount, currency, policy_version, "
    "contract_version, decided_at, event, next_review_at"
)


def _decision(row: Any) -> StoredDecision:
    return StoredDecision(*row)


_FIRM_LEADS = (
    "FROM credit.facts f"
    " WHERE f.kind = 'received' AND f.occurred_at >= $2 AND f.occurred_at < $3"
    "   AND EXISTS (SELECT 1 FROM credit.credit_decisions d"
    "               WHERE d.lead_id = f.lead_id AND d.firm_id = $1)"
)


async def firm_leads_count(
    conn: asyncpg.Connection, firm_id: str, start: datetime, end: datetime
) -> int:
    return int(await conn.fetchval("SELECT count(*) " + _FIRM_LEADS, firm_id, start, end) or 0)


async def firm_leads_received(
    conn: asyncpg.Connection,
    firm_id: str,
    start: datetime,
    end: datetime,
    *,
    limit: int,
    after: tuple[datetime, UUID] | None = None,
) -> list[tuple[UUID, datetime]]:
    """The leads a decision has named ``firm_id`` the claimant of, received in
    [``start``, ``end``), in the order they came in: (lead, received at); ``limit`` of
    them, after ``after`` (received at, lead) when given."""
    at, lead = after or (start, None)
    rows = await conn.fetch(
        "SELECT f.lead_id, f.occurred_at " + _FIRM_LEADS
        + " AND ($5::uuid IS NULL OR (f.occurred_at, f.lead_id) > ($4, $5))"
        " ORDER BY f.occurred_at, f.lead_id LIMIT $6",
        firm_id,
        start,
        end,
        at,
        lead,
        limit,
    )  # fmt: skip
    return [(r["lead_id"], r["occurred_at"]) for r in rows]


async def latest_decisions_of(
    conn: asyncpg.Connection, leads: Sequence[UUID]
) -> dict[UUID, StoredDecision]:
    rows = await conn.fetch(
        f"SELECT DISTINCT ON (lead_id) {_DECISION_COLUMNS} FROM credit.credit_decisions "  # noqa: S608
        "WHERE lead_id = ANY($1::uuid[]) ORDER BY lead_id, revision DESC",
        list(leads),
    )
    return {r[0]: _decision(r) for r in rows}


async def latest_decision(session: AsyncSession, lead_id: UUID) -> StoredDecision | None:
    return (await latest_decisions_of(await driver_connection(session), [lead_id])).get(lead_id)


async def decision_history(session: AsyncSession, lead_id: UUID) -> list[StoredDecision]:
    conn = await driver_connection(session)
    rows = await conn.fetch(
        f"SELECT {_DECISION_COLUMNS} FROM credit.credit_decisions WHERE lead_id = $1 "  # noqa: S608
        "ORDER BY revision",
        lead_id,
    )
    return [_decision(r) for r in rows]


async def decision_count(session: AsyncSession, lead_id: UUID) -> int:
    count = await session.scalar(
        select(func.count()).select_from(decisions).where(decisions.c.lead_id == lead_id)
    )
    return int(count or 0)


async def add_decisions(conn: asyncpg.Connection, rows: Sequence[StoredDecision]) -> None:
    if not rows:
        return
    await conn.execute(
        f"INSERT INTO credit.credit_decisions ({_DECISION_COLUMNS}) "  # noqa: S608
        "SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[], $5::text[], "
        "$6::numeric[], $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::jsonb[], "
        "$12::timestamptz[])",
        [r.lead_id for r in rows],
        [r.revision for r in rows],
        [r.routing_revision for r in rows],
        [r.firm_id for r in rows],
        [r.state for r in rows],
        [r.amount for r in rows],
        [r.currency for r in rows],
        [r.policy_version for r in rows],
        [r.contract_version for r in rows],
        [r.decided_at for r in rows],
        [json.dumps(r.event, separators=(",", ":")) for r in rows],
        [r.next_review_at for r in rows],
    )


async def set_next_reviews(
    conn: asyncpg.Connection, changes: Sequence[tuple[UUID, int, datetime | None]]
) -> None:
    """(lead, revision, when) each: when the revision, with no new fact, changes."""
    if not changes:
        return
    await conn.execute(
        "UPDATE credit.credit_decisions d SET next_review_at = c.at "
        "FROM unnest($1::uuid[], $2::int[], $3::timestamptz[]) AS c(lead, revision, at) "
        "WHERE d.lead_id = c.lead AND d.revision = c.revision",
        [lead for lead, _, _ in changes],
        [revision for _, revision, _ in changes],
        [at for _, _, at in changes],
    )


async def due_for_review(conn: asyncpg.Connection, now: datetime, limit: int) -> list[UUID]:
    """Leads whose current decision changes by ``now`` with no new fact, earliest first."""
    rows = await conn.fetch(
        "SELECT lead_id FROM credit.credit_decisions WHERE next_review_at <= $1 "
        "ORDER BY next_review_at LIMIT $2",
        now,
        limit,
    )
    return [r[0] for r in rows]


# --- places under a monthly cap: returns, inbound credits per account ----------------


@dataclass(frozen=True)
class Cap:
    """One monthly cap's places: a firm's returns (scope '') or its inbound credits on one
    account (scope: the account)."""

    kind: str  # return | inbound
    firm_id: str
    scope: str = ""

    @property
    def key(self) -> str:
        return f"claims:{self.kind}:{self.firm_id}:{self.scope}"


Place = tuple[Cap, datetime]
"""A lead's place under a cap: the cap, and the time the place is counted at."""


async def claims_of(
    conn: asyncpg.Connection, wanted: Iterable[tuple[Cap, str]]
) -> dict[tuple[Cap, str], list[tuple[datetime, UUID]]]:
    """Every place taken under each (cap, period), in order (time, then lead id)."""
    keys = sorted(set(wanted), key=lambda k: (k[0].kind, k[0].firm_id, k[0].scope, k[1]))
    found: dict[tuple[Cap, str], list[tuple[datetime, UUID]]] = {k: [] for k in keys}
    if not keys:
        return found
    rows = await conn.fetch(
        "SELECT c.kind, c.firm_id, c.scope, c.period, c.at, c.lead_id FROM credit.claims c "
        "JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS w(k, f, s, p) "
        "ON c.kind = w.k AND c.firm_id = w.f AND c.scope = w.s AND c.period = w.p "
        "ORDER BY c.at, c.lead_id",
        [cap.kind for cap, _ in keys],
        [cap.firm_id for cap, _ in keys],
        [cap.scope for cap, _ in keys],
        [period for _, period in keys],
    )
    for kind, firm, scope, period, at, lead in rows:
        found[(Cap(kind, firm, scope), period)].append((at, lead))
    return found


async def places_of(
    conn: asyncpg.Connection, kind: str, leads: Sequence[UUID]
) -> dict[UUID, Place]:
    """The leads' current places under ``kind`` caps."""
    rows = await conn.fetch(
        "SELECT lead_id, firm_id, scope, at FROM credit.claims "
        "WHERE kind = $1 AND lead_id = ANY($2::uuid[])",
        kind,
        list(leads),
    )
    return {lead: (Cap(kind, firm, scope), at) for lead, firm, scope, at in rows}


async def write_places(
    conn: asyncpg.Connection, kind: str, places: Mapping[UUID, Place | None]
) -> None:
    """Keep each lead's place under ``kind`` caps as given (None: it takes none)."""
    gone = [lead for lead, place in places.items() if place is None]
    kept = [(lead, place) for lead, place in places.items() if place is not None]
    if gone:
        await conn.execute(
            "DELETE FROM credit.claims WHERE kind = $1 AND lead_id = ANY($2::uuid[])", kind, gone
        )
    if kept:
        await conn.execute(
            "INSERT INTO credit.claims (kind, lead_id, firm_id, scope, period, at) "
            "SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], "
            "$6::timestamptz[]) ON CONFLICT (kind, lead_id) DO UPDATE SET "
            "firm_id = excluded.firm_id, scope = excluded.scope, period = excluded.period, "
            "at = excluded.at",
            kind,
            [lead for lead, _ in kept],
            [place[0].firm_id for _, place in kept],
            [place[0].scope for _, place in kept],
            [f"{place[1]:%Y-%m}" for _, place in kept],
            [place[1] for _, place in kept],
        )


async def review_later_places(
    conn: asyncpg.Connection,
    moved: Sequence[tuple[Cap, datetime, UUID]],
    except_leads: Sequence[UUID],
) -> None:
    """For each (cap, since, lead): a place was taken or given up there, so the current
    decisions of the places after it (in that month) are due for review as of when they
    were made (their counts changed; the sweep re-decides). ``except_leads``: leads left
    out (the caller's batch, which it marks itself: ``review_now``)."""
    if not moved:
        return
    await conn.execute(
        "UPDATE credit.credit_decisions d SET next_review_at = d.decided_at "
        "FROM credit.claims c, unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], "
        "$5::uuid[]) AS m(k, f, s, since, lead) "
        "WHERE c.kind = m.k AND c.firm_id = m.f AND c.scope = m.s "
        " AND c.period = to_char(m.since AT TIME ZONE 'UTC', 'YYYY-MM') "
        " AND (c.at, c.lead_id) > (m.since, m.lead) AND c.lead_id <> m.lead "
        " AND c.lead_id <> ALL($6::uuid[]) "
        " AND d.lead_id = c.lead_id AND NOT EXISTS (SELECT 1 FROM credit.credit_decisions n "
        "  WHERE n.lead_id = d.lead_id AND n.revision > d.revision)",
        [cap.kind for cap, _, _ in moved],
        [cap.firm_id for cap, _, _ in moved],
        [cap.scope for cap, _, _ in moved],
        [since for _, since, _ in moved],
        [lead for _, _, lead in moved],
        list(except_leads),
    )


async def review_now(conn: asyncpg.Connection, leads: Iterable[UUID]) -> None:
    """The leads' current decisions due for review as of when they were made."""
    wanted = list(leads)
    if not wanted:
        return
    await conn.execute(
        "UPDATE credit.credit_decisions d SET next_review_at = d.decided_at "
        "WHERE d.lead_id = ANY($1::uuid[]) AND NOT EXISTS (SELECT 1 "
        " FROM credit.credit_decisions n WHERE n.lead_id = d.lead_id AND n.revision > d.revision)",
        wanted,
    )


# --- ledger ------------------------------------------------------------------------------


async def ledger_totals_of(
    conn: asyncpg.Connection, leads: Sequence[UUID]
) -> dict[UUID, tuple[Decimal, int]]:
    """What each lead has earned so far (amount, meetings), all its entries summed."""
    rows = await conn.fetch(
        "SELECT lead_id, sum(amount), sum(meetings) FROM credit.ledger "
        "WHERE lead_id = ANY($1::uuid[]) GROUP BY lead_id",
        list(leads),
    )
    totals = {lead: (Decimal("0.00"), 0) for lead in leads}
    totals.update({lead: (Decimal(amount), int(meetings)) for lead, amount, meetings in rows})
    return totals


def ladder_key(firm: str, month: str) -> str:
    """The lock on a firm's month of credited meetings (volume tiers)."""
    return f"meetings:{firm}:{month}"


async def meeting_places_of(
    conn: asyncpg.Connection, leads: Sequence[UUID]
) -> dict[UUID, tuple[str, tuple[MeetingPlace, ...]]]:
    """The leads' credited meetings as they stand: the firm, and each meeting's place."""
    rows = await conn.fetch(
        "SELECT lead_id, firm_id, at, meeting_id FROM credit.meeting_places "
        "WHERE lead_id = ANY($1::uuid[]) ORDER BY lead_id, at, meeting_id",
        list(leads),
    )
    found: dict[UUID, tuple[str, tuple[MeetingPlace, ...]]] = {}
    for lead, firm, at, meeting in rows:
        found[lead] = (firm, (*found.get(lead, (firm, ()))[1], (at, meeting)))
    return found


async def ladders_of(
    conn: asyncpg.Connection, wanted: Iterable[tuple[str, str]]
) -> dict[str, dict[str, list[MeetingPlace]]]:
    """Each (firm, month)'s credited meetings, in order (when credited, then id)."""
    keys = sorted(set(wanted))
    ladders: dict[str, dict[str, list[MeetingPlace]]] = {}
    for firm, month in keys:
        ladders.setdefault(firm, {})[month] = []
    if not keys:
        return ladders
    rows = await conn.fetch(
        "SELECT p.firm_id, p.period, p.at, p.meeting_id FROM credit.meeting_places p "
        "JOIN unnest($1::text[], $2::text[]) AS w(f, m) ON p.firm_id = w.f AND p.period = w.m "
        "ORDER BY p.at, p.meeting_id",
        [firm for firm, _ in keys],
        [month for _, month in keys],
    )
    for firm, month, at, meeting in rows:
        ladders[firm][month].append((at, meeting))
    return ladders


async def write_meeting_places(
    conn: asyncpg.Connection, leads: Mapping[UUID, tuple[str, tuple[MeetingPlace, ...]]]
) -> None:
    """Keep each lead's credited meetings as given (none: it holds no place)."""
    if not leads:
        return
    await conn.execute(
        "DELETE FROM credit.meeting_places WHERE lead_id = ANY($1::uuid[])", list(leads)
    )
    rows = [(lead, firm, p) for lead, (firm, places) in leads.items() for p in places]
    if rows:
        await conn.execute(
            "INSERT INTO credit.meeting_places (lead_id, meeting_id, firm_id, period, at) "
            "SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], "
            "$5::timestamptz[])",
            [lead for lead, _, _ in rows],
            [place[1] for _, _, place in rows],
            [firm for _, firm, _ in rows],
            [month_of(place[0]) for _, _, place in rows],
            [place[0] for _, _, place in rows],
        )


async def review_later_meetings(
    conn: asyncpg.Connection,
    moved: Sequence[tuple[str, datetime, UUID]],
    except_leads: Sequence[UUID],
) -> None:
    """For each (firm, since, lead): a credited meeting was placed or gone there, so the
    current decisions of the firm's meetings credited after it that month rank otherwise
    now: due for review as of when they were made (the sweep re-decides them).
    ``except_leads``: as for ``review_later_places``."""
    if not moved:
        return
    await conn.execute(
        "UPDATE credit.credit_decisions d SET next_review_at = d.decided_at "
        "FROM credit.meeting_places p, unnest($1::text[], $2::timestamptz[], $3::uuid[]) "
        " AS m(f, since, lead) "
        "WHERE p.firm_id = m.f AND p.period = to_char(m.since AT TIME ZONE 'UTC', 'YYYY-MM') "
        " AND p.at >= m.since AND p.lead_id <> m.lead AND p.lead_id <> ALL($4::uuid[]) "
        " AND d.lead_id = p.lead_id AND NOT EXISTS (SELECT 1 FROM credit.credit_decisions n "
        "  WHERE n.lead_id = d.lead_id AND n.revision > d.revision)",
        [firm for firm, _, _ in moved],
        [since for _, since, _ in moved],
        [lead for _, _, lead in moved],
        list(except_leads),
    )


@dataclass(frozen=True)
class LedgerEntry:
    lead_id: UUID
    decision_revision: int
    firm_id: str
    kind: str  # credit | clawback | settlement
    amount: Decimal
    currency: str
    meetings: int
    period: str
    payable_on: date
    reason: str


async def add_ledger_entries(conn: asyncpg.Connection, entries: Sequence[LedgerEntry]) -> None:
    """Append-only; the (lead, decision revision) key means nothing is booked twice."""
    if not entries:
        return
    await conn.execute(
        "INSERT INTO credit.ledger (lead_id, decision_revision, firm_id, kind, amount, currency, "
        "meetings, period, payable_on, reason) SELECT * FROM unnest($1::uuid[], $2::int[], "
        "$3::text[], $4::text[], $5::numeric[], $6::text[], $7::int[], $8::text[], $9::date[], "
        "$10::text[]) ON CONFLICT DO NOTHING",
        [e.lead_id for e in entries],
        [e.decision_revision for e in entries],
        [e.firm_id for e in entries],
        [e.kind for e in entries],
        [e.amount for e in entries],
        [e.currency for e in entries],
        [e.meetings for e in entries],
        [e.period for e in entries],
        [e.payable_on for e in entries],
        [e.reason for e in entries],
    )


def payable_after(at: datetime, days: int) -> date:
    return (at + timedelta(days=days)).date()


# --- backtest jobs (shared/jobs.py runs them) -------------------------------------------


async def backtest_job(session: AsyncSession, job_id: UUID) -> dict[str, Any] | None:
    row = (await session.execute(select(backtests).where(backtests.c.id == job_id))).first()
    return dict(row._mapping) if row else None


async def backtest_jobs_of(session: AsyncSession, firm_id: str, limit: int) -> list[dict[str, Any]]:
    """The firm's latest backtests, newest first."""
    rows = await session.execute(
        select(backtests)
        .where(backtests.c.firm_id == firm_id)
        .order_by(backtests.c.ran_at.desc())
        .limit(limit)
    )
    return [dict(row._mapping) for row in rows]
