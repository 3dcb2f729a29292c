"""Credit's tables (schema ``credit``) and the queries of its decision path (facts,
touches and the review queue, decisions, places under a monthly cap, the ledger), and the
mapping from stored facts to the domain's ``LeadFacts``. The statement and report reads are in
``report_queries``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Identity,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
    and_,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, SQLModel

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

SCHEMA = "credit"
_metadata = MetaData(schema=SCHEMA)


class CreditDecisionRow(SQLModel, table=True):
    __tablename__ = "credit_decisions"
    __table_args__ = {"schema": SCHEMA}

    lead_id: UUID = Field(primary_key=True)
    revision: int = Field(primary_key=True)
    routing_revision: int
    firm_id: str | None = None
    state: str = Field(max_length=20)
    amount: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    currency: str = Field(max_length=3)
    policy_version: str
    contract_version: str | None = None
    decided_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    event: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    # set on the current revision only: when, with no new fact, the decision changes
    next_review_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


contracts = Table(
    "contracts",
    _metadata,
    Column("firm_id", String(100), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("terms", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)
facts = Table(
    "facts",
    _metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("lead_id", Uuid, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("email_domain", String(255)),
    Column("data", JSONB, nullable=False),
)
touches = Table(
    "touches",
    _metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("firm_id", String(100), nullable=False),
    Column("email_domain", String(255), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
)
review_queue = Table(
    "review_queue",
    _metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("queued_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)
claims = Table(
    "claims",
    _metadata,
    Column("kind", String(20), primary_key=True),  # return | inbound
    Column("lead_id", Uuid, primary_key=True),
    Column("firm_id", String(100), nullable=False),
    Column("scope", String(255), nullable=False),  # '' (the firm's) or an account
    Column("period", String(7), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
ledger = Table(
    "ledger",
    _metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("lead_id", Uuid, nullable=False),
    Column("decision_revision", Integer, nullable=False),
    Column("firm_id", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("amount", Numeric(12, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("meetings", Integer, nullable=False),
    Column("period", String(7), nullable=False),
    Column("payable_on", Date, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)


async def lock(session: AsyncSession, key: str) -> None:
    """A transaction-scoped advisory lock on a business key (a lead, a domain)."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


async def try_lock(session: AsyncSession, key: str) -> bool:
    """The same lock if it is free now; False if another transaction holds it."""
    return bool(
        await session.scalar(select(func.pg_try_advisory_xact_lock(func.hashtextextended(key, 0))))
    )


# --- contracts ---------------------------------------------------------------------


async def current_contract(session: AsyncSession, firm_id: str) -> Contract | None:
    row = (
        await session.execute(
            select(contracts.c.version, contracts.c.terms)
            .where(contracts.c.firm_id == firm_id)
            .order_by(contracts.c.version.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return Contract(firm_id=firm_id, version=row.version, terms=Terms.model_validate(row.terms))


async def add_contract(session: AsyncSession, firm_id: str, terms: Terms) -> Contract:
    """A new version; earlier versions stay, as decisions name them."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"contract:{firm_id}"))))
    latest = await session.scalar(
        select(func.max(contracts.c.version)).where(contracts.c.firm_id == firm_id)
    )
    version = int(latest or 0) + 1
    await session.execute(
        contracts.insert().values(
            firm_id=firm_id, version=version, terms=terms.model_dump(mode="json")
        )
    )
    return Contract(firm_id=firm_id, version=version, terms=terms)


# --- facts ---------------------------------------------------------------------------


async def add_fact(
    session: AsyncSession,
    *,
    event_id: UUID,
    lead_id: UUID,
    kind: str,
    occurred_at: datetime,
    data: dict[str, Any],
    email_domain: str | None = None,
) -> None:
    await session.execute(
        insert(facts)
        .values(
            event_id=event_id,
            lead_id=lead_id,
            kind=kind,
            occurred_at=occurred_at,
            email_domain=email_domain,
            data=data,
        )
        .on_conflict_do_nothing()
    )


async def add_touch(
    session: AsyncSession, *, event_id: UUID, firm_id: str, email_domain: str, occurred_at: datetime
) -> None:
    await session.execute(
        insert(touches)
        .values(
            event_id=event_id, firm_id=firm_id, email_domain=email_domain, occurred_at=occurred_at
        )
        .on_conflict_do_nothing()
    )


async def queue_leads_touch_bears_on(
    session: AsyncSession, email_domain: str, touched_at: datetime
) -> int:
    """Queue for review the leads on the domain a touch at ``touched_at`` can change: the
    inbound ones (a touch bears only on those) received at or after it, inside the
    look-back horizon. A lead already queued stays queued once. Returns how many were
    queued."""
    leads = select(facts.c.lead_id).where(
        facts.c.kind == "received",
        facts.c.email_domain == email_domain,
        facts.c.occurred_at >= touched_at,
        facts.c.occurred_at <= touched_at + timedelta(days=TOUCH_HORIZON_DAYS),
        facts.c.data["firm_id"].astext.is_(None),
    )
    result = await session.execute(
        insert(review_queue).from_select(["lead_id"], leads).on_conflict_do_nothing()
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def queued_for_review(session: AsyncSession, limit: int) -> list[UUID]:
    """Leads a touch queued for review, oldest first."""
    rows = await session.execute(
        select(review_queue.c.lead_id).order_by(review_queue.c.queued_at).limit(limit)
    )
    return [r[0] for r in rows]


async def take_from_review_queue(session: AsyncSession, lead_id: UUID) -> bool:
    """Remove the lead from the queue, in the transaction that re-decides it (before it
    reads the facts: a touch committed later queues it again). False if it was not there."""
    result = await session.execute(
        review_queue.delete()
        .where(review_queue.c.lead_id == lead_id)
        .returning(review_queue.c.lead_id)
    )
    return result.first() is not None


async def touches_bearing_on(
    session: AsyncSession, received: Received, firm_id: str, terms: Terms
) -> tuple[Touch, ...]:
    """The one touch the policy reads for an inbound lead: the firm's own latest on the
    lead's domain inside the look-back (SP3). Another firm's touches never bear on it, and
    a lead the firm submitted needs none."""
    if received.submitted_by_firm is not None:
        return ()
    at = received.received_at
    latest = await session.scalar(
        select(func.max(touches.c.occurred_at)).where(
            touches.c.email_domain == received.email_domain,
            touches.c.firm_id == firm_id,
            touches.c.occurred_at <= at,
            touches.c.occurred_at >= at - timedelta(days=terms.inbound_lookback_days),
        )
    )
    return (Touch(firm_id, latest, received.email_domain),) if latest is not None else ()


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def lead_facts(session: AsyncSession, lead_id: UUID) -> LeadFacts:
    """The lead's own facts. Its domain's touches depend on the contract's windows and are
    read by ``touches_bearing_on`` once the contract is known."""
    rows = (
        await session.execute(
            select(facts.c.kind, facts.c.occurred_at, facts.c.data).where(
                facts.c.lead_id == lead_id
            )
        )
    ).all()
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


async def lead_firm(session: AsyncSession, lead_id: UUID) -> str | None:
    """The firm whose credit the lead is about (its current decision's), for partner reads."""
    latest = await latest_decision(session, lead_id)
    return latest.firm_id if latest else None


# --- decisions ---------------------------------------------------------------------

DECISIONS: Table = CreditDecisionRow.__table__  # type: ignore[attr-defined]


def is_current() -> ColumnElement[bool]:
    """A decision row no later revision of its lead supersedes."""
    newer = DECISIONS.alias("newer")
    return ~(
        select(newer.c.revision)
        .where(newer.c.lead_id == DECISIONS.c.lead_id, newer.c.revision > DECISIONS.c.revision)
        .exists()
    )


async def latest_decision(session: AsyncSession, lead_id: UUID) -> CreditDecisionRow | None:
    query = (
        select(CreditDecisionRow)
        .where(CreditDecisionRow.lead_id == lead_id)  # type: ignore[arg-type]
        .order_by(CreditDecisionRow.revision.desc())  # type: ignore[attr-defined]
        .limit(1)
    )
    return (await session.execute(query)).scalars().first()


async def decision_history(session: AsyncSession, lead_id: UUID) -> list[CreditDecisionRow]:
    query = (
        select(CreditDecisionRow)
        .where(CreditDecisionRow.lead_id == lead_id)  # type: ignore[arg-type]
        .order_by(CreditDecisionRow.revision)  # type: ignore[arg-type]
    )
    return list((await session.execute(query)).scalars().all())


async def set_next_review(
    session: AsyncSession, lead_id: UUID, revision: int, at: datetime | None
) -> None:
    await session.execute(
        update(CreditDecisionRow)
        .where(
            CreditDecisionRow.lead_id == lead_id,  # type: ignore[arg-type]
            CreditDecisionRow.revision == revision,  # type: ignore[arg-type]
        )
        .values(next_review_at=at)
    )


async def due_for_review(session: AsyncSession, now: datetime, limit: int) -> list[UUID]:
    """Leads whose current decision changes by ``now`` with no new fact, earliest first."""
    decisions = DECISIONS
    rows = await session.execute(
        select(decisions.c.lead_id)
        .where(decisions.c.next_review_at <= now)
        .order_by(decisions.c.next_review_at)
        .limit(limit)
    )
    return [r[0] for r in rows]


async def decision_count(session: AsyncSession, lead_id: UUID) -> int:
    query = select(func.count()).where(CreditDecisionRow.lead_id == lead_id)  # type: ignore[arg-type]
    return int(await session.scalar(query) or 0)


# --- places under a monthly cap: returns, inbound credits per account ----------------


@dataclass(frozen=True)
class Cap:
    """One monthly cap's places: a firm's returns (scope '') or its inbound credits on one
    account (scope: the account)."""

    kind: str  # return | inbound
    firm_id: str
    scope: str = ""


async def lock_claims(session: AsyncSession, cap: Cap) -> None:
    """Held while a cap's places are counted and recorded, so two leads decided at once
    each see the other."""
    await lock(session, f"claims:{cap.kind}:{cap.firm_id}:{cap.scope}")


def _of(cap: Cap) -> ColumnElement[bool]:
    return and_(
        claims.c.kind == cap.kind, claims.c.firm_id == cap.firm_id, claims.c.scope == cap.scope
    )


async def claims_before(session: AsyncSession, cap: Cap, at: datetime, lead_id: UUID) -> int:
    """The places of the cap in ``at``'s month taken before this lead's (event time, then
    lead id: the same order however the facts arrived)."""
    total = await session.scalar(
        select(func.count()).where(
            _of(cap),
            claims.c.period == f"{at:%Y-%m}",
            tuple_(claims.c.at, claims.c.lead_id) < tuple_(at, lead_id),
        )
    )
    return int(total or 0)


async def record_claim(
    session: AsyncSession, kind: str, lead_id: UUID, place: tuple[Cap, datetime] | None
) -> list[tuple[Cap, datetime]]:
    """Keep the lead's place under a ``kind`` cap (or its absence) current. Returns where
    places moved: each cap touched, from the earliest time whose later places shifted."""
    old = (
        await session.execute(
            select(claims.c.firm_id, claims.c.scope, claims.c.at).where(
                claims.c.kind == kind, claims.c.lead_id == lead_id
            )
        )
    ).first()
    was = (Cap(kind, old.firm_id, old.scope), old.at) if old is not None else None
    if was == place:
        return []
    if place is None:
        await session.execute(
            claims.delete().where(claims.c.kind == kind, claims.c.lead_id == lead_id)
        )
        return [was] if was is not None else []
    cap, at = place
    values = {"firm_id": cap.firm_id, "scope": cap.scope, "period": f"{at:%Y-%m}", "at": at}
    await session.execute(
        insert(claims)
        .values(kind=kind, lead_id=lead_id, **values)
        .on_conflict_do_update(index_elements=[claims.c.kind, claims.c.lead_id], set_=values)
    )
    if was is None:
        return [place]
    if was[0] == cap:
        return [(cap, min(at, was[1]))]
    return [was, place]


async def review_later_claims(
    session: AsyncSession, cap: Cap, since: datetime, lead_id: UUID
) -> None:
    """A place was taken or given up before these: their counts changed, so their current
    decisions are due for review as of when they were made (the sweep re-decides)."""
    decisions = DECISIONS
    await session.execute(
        decisions.update()
        .where(
            decisions.c.lead_id == claims.c.lead_id,
            is_current(),
            _of(cap),
            claims.c.period == f"{since:%Y-%m}",
            tuple_(claims.c.at, claims.c.lead_id) > tuple_(since, lead_id),
            claims.c.lead_id != lead_id,
        )
        .values(next_review_at=decisions.c.decided_at)
    )


# --- ledger --------------------------------------------------------------------------


async def ledger_total(session: AsyncSession, lead_id: UUID) -> tuple[Decimal, int]:
    """What the lead has earned so far (amount, meetings), all entries summed."""
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(ledger.c.amount), 0),
                func.coalesce(func.sum(ledger.c.meetings), 0),
            ).where(ledger.c.lead_id == lead_id)
        )
    ).one()
    return Decimal(row[0]), int(row[1])


async def meetings_credited(session: AsyncSession, firm_id: str, period: str, but: UUID) -> int:
    """Held meetings already credited to the firm in the period, other leads' (for tiers)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(ledger.c.meetings), 0)).where(
            ledger.c.firm_id == firm_id, ledger.c.period == period, ledger.c.lead_id != but
        )
    )
    return int(total or 0)


async def add_ledger_entry(session: AsyncSession, **values: Any) -> None:
    """Append-only; the (lead, decision revision) key means nothing is booked twice."""
    await session.execute(insert(ledger).values(**values).on_conflict_do_nothing())
