"""Credit's read side for statements and reports: the ledger lines of a firm's month, and
the leads and touches a report window counts. The tables are ``store``'s."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import store
from services.credit.domain.facts import Touch
from services.credit.domain.report import LeadStanding


async def statement_lines(session: AsyncSession, firm_id: str, period: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(
            store.ledger.c.lead_id,
            store.ledger.c.decision_revision,
            store.ledger.c.kind,
            store.ledger.c.amount,
            store.ledger.c.currency,
            store.ledger.c.meetings,
            store.ledger.c.payable_on,
            store.ledger.c.reason,
            store.ledger.c.created_at,
        )
        .where(store.ledger.c.firm_id == firm_id, store.ledger.c.period == period)
        .order_by(store.ledger.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def firm_touches(
    session: AsyncSession, firm_id: str, since: datetime, until: datetime
) -> list[Touch]:
    """The firm's own touches (calls, emails...) made in ``[since, until)``."""
    rows = await session.execute(
        select(store.touches.c.occurred_at, store.touches.c.email_domain).where(
            store.touches.c.firm_id == firm_id,
            store.touches.c.occurred_at >= since,
            store.touches.c.occurred_at < until,
        )
    )
    return [Touch(firm_id, at, domain) for at, domain in rows]


REPORTED_KINDS = ("received", "status", "meeting")  # what a report counts, by event time


async def firm_leads(
    session: AsyncSession, firm_id: str, since: datetime, until: datetime
) -> list[LeadStanding]:
    """The leads whose current decision is about the firm and that were received, changed
    stage or had a meeting in ``[since, until)`` (all a report over that window counts),
    with their facts (SP9 reports). One facts read per such lead."""
    decisions = store.DECISIONS
    in_window = (
        select(store.facts.c.lead_id)
        .where(
            store.facts.c.kind.in_(REPORTED_KINDS),
            store.facts.c.occurred_at >= since,
            store.facts.c.occurred_at < until,
        )
        .distinct()
    )
    rows = (
        await session.execute(
            select(decisions).where(
                decisions.c.firm_id == firm_id,
                decisions.c.lead_id.in_(in_window),
                store.is_current(),
            )
        )
    ).all()
    standings = []
    for row in rows:
        reasons = row.event.get("reasons") or [{}]
        standings.append(
            LeadStanding(
                await store.lead_facts(session, row.lead_id),
                row.state,
                Decimal(row.amount),
                reasons[0].get("sentence", ""),
            )
        )
    return standings
