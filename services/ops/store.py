"""Ops' queries of the event log (its table in ``services.ops.tables``): what is read from it.

The log is written in one order: every insert takes a transaction-scoped advisory lock
first, so ``seq`` (the stream position) grows in commit order and a reader that has seen
``seq = n`` never later finds a smaller one committed (what makes resuming from
``Last-Event-ID`` exact). Rows never leave this module as ORM objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    String,
    and_,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by, distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.ops.domain.filters import OWNER_EVENTS, Bucket, LeadQuery, Scope
from services.ops.domain.funnel import NO_CAMPAIGN
from services.ops.domain.stream_filter import StreamFilter
from services.ops.tables import event_log

RECEIVED = "leadflow.lead.received.v1"


@dataclass(frozen=True)
class LoggedEvent:
    seq: int
    event_id: UUID
    type: str
    topic: str
    source: str
    time: datetime
    subject: str | None
    lead_id: UUID | None
    firm_id: str | None
    account_id: str | None
    data: dict[str, Any]

    def envelope_json(self) -> dict[str, Any]:
        """The CloudEvent as it travelled, with ``seq`` as a stream extension attribute."""
        return {
            "specversion": "1.0",
            "id": str(self.event_id),
            "source": self.source,
            "type": self.type,
            "time": self.time.isoformat(),
            "subject": self.subject,
            "datacontenttype": "application/json",
            "topic": self.topic,
            "seq": self.seq,
            "data": self.data,
        }


LOGGED_COLUMNS = (
    event_log.c.seq,
    event_log.c.event_id,
    event_log.c.type,
    event_log.c.topic,
    event_log.c.source,
    event_log.c.time,
    event_log.c.subject,
    event_log.c.lead_id,
    event_log.c.firm_id,
    event_log.c.account_id,
    event_log.c.data,
)


def _logged(row: Any) -> LoggedEvent:
    return LoggedEvent(*row)


# --- the stream -------------------------------------------------------------------------

STREAM_BATCH = 500


async def last_seq(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.coalesce(func.max(event_log.c.seq), 0))) or 0)


def _matching(where: StreamFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.types:
        alternatives: list[ColumnElement[bool]] = []
        if where.types.exact:
            alternatives.append(event_log.c.type.in_(sorted(where.types.exact)))
        alternatives += [
            event_log.c.type.startswith(prefix, autoescape=True) for prefix in where.types.prefixes
        ]
        conditions.append(or_(*alternatives))
    if where.firm_id is not None:
        conditions.append(event_log.c.firm_id == where.firm_id)
    if where.exclude_topics:
        conditions.append(event_log.c.topic.not_in(sorted(where.exclude_topics)))
    if where.exclude_types:
        conditions.append(event_log.c.type.not_in(sorted(where.exclude_types)))
    if where.account_id is not None:
        conditions.append(event_log.c.account_id == where.account_id)
    return conditions


async def events_after(
    session: AsyncSession, after: int, where: StreamFilter, limit: int = STREAM_BATCH
) -> list[LoggedEvent]:
    """The next matching events after stream position ``after``, in stream order."""
    rows = await session.execute(
        select(*LOGGED_COLUMNS)
        .where(event_log.c.seq > after, *_matching(where))
        .order_by(event_log.c.seq)
        .limit(limit)
    )
    return [_logged(r) for r in rows]


# --- backtests --------------------------------------------------------------------------


async def latest_of_type(session: AsyncSession, event_type: str, limit: int) -> list[Any]:
    """The data of the latest ``limit`` events of one type, newest first."""
    rows = await session.execute(
        select(event_log.c.data)
        .where(event_log.c.type == event_type)
        .order_by(event_log.c.seq.desc())
        .limit(limit)
    )
    return [row[0] for row in rows]


# --- a lead -----------------------------------------------------------------------------


async def lead_events(session: AsyncSession, lead_id: UUID) -> list[LoggedEvent]:
    rows = await session.execute(
        select(*LOGGED_COLUMNS)
        .where(event_log.c.lead_id == lead_id)
        .order_by(event_log.c.time, event_log.c.seq)
    )
    return [_logged(r) for r in rows]


@dataclass(frozen=True)
class LeadHit:
    lead_id: UUID
    received_at: datetime
    email: str | None
    name: str | None
    company: str | None
    channel: str | None
    campaign: str | None
    firm_id: str | None


def _scoped(scope: Scope, table: Any = event_log) -> list[ColumnElement[bool]]:
    """The conditions for ``scope`` on rows of ``table`` (the log or an alias of it): the
    lead's firm; the owner named by an event about an owner, else the lead routed to
    that owner at any revision (``domain/filters.py``)."""
    conditions: list[ColumnElement[bool]] = []
    if scope.firm_id is not None:
        conditions.append(table.c.firm_id == scope.firm_id)
    if scope.owner_id is not None:
        routed = event_log.alias("routed_to_owner")
        routed_to_owner = select(routed.c.lead_id).where(
            routed.c.type == ROUTED, routed.c.owner_id == scope.owner_id
        )
        owner_events = sorted(OWNER_EVENTS)
        conditions.append(
            or_(
                and_(table.c.type.in_(owner_events), table.c.owner_id == scope.owner_id),
                and_(table.c.type.not_in(owner_events), table.c.lead_id.in_(routed_to_owner)),
            )
        )
    return conditions


def _in_range(
    table: Any, start: datetime | None, end: datetime | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if start is not None:
        conditions.append(table.c.time >= start)
    if end is not None:
        conditions.append(table.c.time < end)
    return conditions


def _text_matches(q: str) -> ColumnElement[bool]:
    """A received event whose email, company, name, domain or id (a prefix) contain ``q``."""
    needle = q.strip().lower()
    like = f"%{_escape_like(needle)}%"
    data = event_log.c.data
    return or_(
        func.lower(data["email"].astext).like(like, escape="\\"),
        func.lower(data["company"].astext).like(like, escape="\\"),
        func.lower(data["name"].astext).like(like, escape="\\"),
        func.lower(data["email_domain"].astext) == needle,
        func.cast(event_log.c.lead_id, String).startswith(needle, autoescape=True),
    )


def _leads_matching(query: LeadQuery) -> Any:
    """The ids of the leads with a matching ``query.event``."""
    e = event_log.alias("matched")
    where = [e.c.type == query.event, *_in_range(e, query.range.start, query.range.end)]
    where += _scoped(query.scope, e)
    if query.channel is not None:
        where.append(e.c.channel == query.channel)
    if query.campaign == NO_CAMPAIGN:
        where.append(e.c.campaign.is_(None))
    elif query.campaign is not None:
        where.append(e.c.campaign == query.campaign)
    if query.rule is not None:
        where.append(e.c.data["rule"].astext == query.rule)
    if query.state is None:
        return select(e.c.lead_id).where(*where)
    # As the credit panel counts: each lead's latest decision in the range, by state.
    revision = func.cast(e.c.data["revision"].astext, BigInteger)
    latest = (
        select(e.c.lead_id, e.c.data["state"].astext.label("state"))
        .where(*where)
        .ext(distinct_on(e.c.lead_id))
        .order_by(e.c.lead_id, revision.desc())
        .subquery()
    )
    return select(latest.c.lead_id).where(latest.c.state == query.state)


async def list_leads(
    session: AsyncSession, query: LeadQuery, limit: int
) -> tuple[list[LeadHit], int]:
    """The leads behind a dashboard number (and the search box's): received leads with a
    matching event, newest first, at most ``limit``; and how many there are in all."""
    data = event_log.c.data
    where = [event_log.c.type == RECEIVED]
    if query.q is not None:
        where.append(_text_matches(query.q))
    if not query.text_only:
        where.append(event_log.c.lead_id.in_(_leads_matching(query)))
    rows = await session.execute(
        select(
            event_log.c.lead_id,
            event_log.c.time,
            data["email"].astext,
            data["name"].astext,
            data["company"].astext,
            event_log.c.channel,
            event_log.c.campaign,
            event_log.c.firm_id,
        )
        .where(*where)
        .order_by(event_log.c.time.desc())
        .limit(limit)
    )
    hits = [LeadHit(*r) for r in rows]
    total = len(hits)
    if total == limit:
        total = int(await session.scalar(select(func.count()).where(*where)) or 0)
    return hits, total


async def search_leads(session: AsyncSession, q: str, limit: int) -> list[LeadHit]:
    """Received leads whose email, company, name, domain or id (a prefix) contain ``q``."""
    hits, _ = await list_leads(session, LeadQuery(q=q), limit)
    return hits


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- reports and the dashboard -----------------------------------------------------------

STATUS = "leadflow.lead.status_changed.v1"
MEETING = "leadflow.meeting.updated.v1"
CREDIT = "leadflow.credit.decided.v1"
ROUTED = "leadflow.lead.routed.v1"


@dataclass(frozen=True)
class LeadProgressRow:
    lead_id: UUID
    channel: str | None
    campaign: str | None
    stages: list[str]
    meeting_statuses: list[str]
    credit_state: str | None
    credit_amount: str | None


async def lead_progress(
    session: AsyncSession,
    received_from: datetime,
    received_to: datetime,
    scope: Scope | None = None,
) -> list[LeadProgressRow]:
    """Per lead received in [from, to) (of the scope's owner and firm): its channel and
    campaign, every stage it reached, every meeting status reported, and its latest
    credit decision."""
    received = (
        select(event_log.c.lead_id, event_log.c.channel, event_log.c.campaign)
        .where(
            event_log.c.type == RECEIVED,
            event_log.c.time >= received_from,
            event_log.c.time < received_to,
            *_scoped(scope or Scope()),
        )
        .cte("received")
    )
    later = event_log.alias("later")
    revision = func.cast(later.c.data["revision"].astext, BigInteger).desc()
    is_credit = later.c.type == CREDIT
    rows = await session.execute(
        select(
            received.c.lead_id,
            received.c.channel,
            received.c.campaign,
            func.array_remove(
                func.array_agg(later.c.data["stage"].astext.distinct()).filter(
                    later.c.type == STATUS
                ),
                None,
            ),
            func.array_remove(
                func.array_agg(later.c.data["status"].astext.distinct()).filter(
                    later.c.type == MEETING
                ),
                None,
            ),
            func.array_agg(aggregate_order_by(later.c.data["state"].astext, revision)).filter(
                is_credit
            )[1],
            func.array_agg(aggregate_order_by(later.c.data["amount"].astext, revision)).filter(
                is_credit
            )[1],
        )
        .select_from(
            received.outerjoin(
                later,
                and_(
                    later.c.lead_id == received.c.lead_id,
                    later.c.type.in_([STATUS, MEETING, CREDIT]),
                ),
            )
        )
        .group_by(received.c.lead_id, received.c.channel, received.c.campaign)
    )
    return [
        LeadProgressRow(r[0], r[1], r[2], list(r[3] or []), list(r[4] or []), r[5], r[6])
        for r in rows
    ]


async def received_per_bucket(
    session: AsyncSession, start: datetime, end: datetime, bucket: Bucket, scope: Scope
) -> list[tuple[datetime, str, int]]:
    """Leads received in [start, end) per channel and minute, hour or UTC day."""
    at = func.date_trunc(bucket, event_log.c.time, "UTC")
    rows = await session.execute(
        select(at, func.coalesce(event_log.c.channel, "unknown"), func.count())
        .where(
            event_log.c.type == RECEIVED,
            *_in_range(event_log, start, end),
            *_scoped(scope),
        )
        .group_by(at, event_log.c.channel)
    )
    return [(r[0], r[1], int(r[2])) for r in rows]


async def routing_outcomes(
    session: AsyncSession, start: datetime, end: datetime, scope: Scope
) -> tuple[list[tuple[str, int]], list[tuple[str | None, str, int]]]:
    """Routing decisions in [start, end): counts per deciding rule, and per owner (id,
    name) or queue (no id, "queue: …" or "unassigned")."""
    data = event_log.c.data
    rule = func.coalesce(data["rule"].astext, literal("unknown"))
    owner = func.coalesce(
        data["owner"]["name"].astext,
        literal("queue: ") + data["queue"].astext,
        literal("unassigned"),
    )
    decided = and_(event_log.c.type == ROUTED, *_in_range(event_log, start, end), *_scoped(scope))
    per_rule = await session.execute(
        select(rule, func.count()).where(decided).group_by(rule).order_by(func.count().desc())
    )
    per_owner = await session.execute(
        select(event_log.c.owner_id, owner, func.count())
        .where(decided)
        .group_by(event_log.c.owner_id, owner)
        .order_by(func.count().desc(), owner)
    )
    return (
        [(r[0], int(r[1])) for r in per_rule],
        [(r[0], r[1], int(r[2])) for r in per_owner],
    )


async def counts_by_type_and_owner(
    session: AsyncSession, types: Sequence[str], start: datetime, end: datetime, scope: Scope
) -> list[tuple[str, str, int]]:
    owner = func.coalesce(event_log.c.owner_id, literal("unknown"))
    rows = await session.execute(
        select(event_log.c.type, owner, func.count())
        .where(
            event_log.c.type.in_(list(types)),
            *_in_range(event_log, start, end),
            *_scoped(scope),
        )
        .group_by(event_log.c.type, owner)
    )
    return [(r[0], r[1], int(r[2])) for r in rows]


async def latest_credit_per_lead(
    session: AsyncSession, start: datetime, end: datetime, scope: Scope
) -> list[tuple[str, str, str]]:
    """(firm, state, amount) of each firm lead's latest credit decision made in [start,
    end)."""
    revision = func.cast(event_log.c.data["revision"].astext, BigInteger)
    latest = (
        select(
            event_log.c.firm_id,
            event_log.c.data["state"].astext.label("state"),
            event_log.c.data["amount"].astext.label("amount"),
        )
        .where(
            event_log.c.type == CREDIT,
            *_in_range(event_log, start, end),
            event_log.c.firm_id.is_not(None),
            *_scoped(scope),
        )
        .ext(distinct_on(event_log.c.lead_id))
        .order_by(event_log.c.lead_id, revision.desc())
        .subquery()
    )
    rows = await session.execute(select(latest.c.firm_id, latest.c.state, latest.c.amount))
    return [(r[0], r[1] or "unknown", r[2] or "0") for r in rows]
