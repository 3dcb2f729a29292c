"""Credit's read side for statements and reports: the ledger lines of a firm's month, and
the leads and touches a report window counts. The tables are ``store``'s."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.credit import store
from services.credit.domain.facts import Touch
from services.credit.domain.report import LeadStanding
from services.credit.tables import decisions, facts, ledger, touches
from shared.db import driver_connection


async def statement_lines(session: AsyncSession, firm_id: str, period: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(
            ledger.c.lead_id,
            ledger.c.decision_revision,
            ledger.c.kind,
            ledger.c.amount,
            ledger.c.currency,
            ledger.c.meetings,
            ledger.c.payable_on,
            ledger.c.reason,
            ledger.c.created_at,
        )
        .where(ledger.c.firm_id == firm_id, ledger.c.period == period)
        .order_by(ledger.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def firm_touches(
    session: AsyncSession, firm_id: str, since: datetime, until: datetime
) -> list[Touch]:
    """The firm's own touches (calls, emails...) made in ``[since, until)``."""
    rows = await session.execute(
        select(touches.c.occurred_at, touches.c.email_domain).where(
            touches.c.firm_id == firm_id,
            touches.c.occurred_at >= since,
            touches.c.occurred_at < until,
        )
    )
    return [Touch(firm_id, at, domain) for at, domain in rows]


def is_current() -> ColumnElement[bool]:
    """A decision row no later revision of its lead supersedes."""
    newer = decisions.alias("newer")
    return ~(
        select(newer.c.revision)
        .where(newer.c.lead_id == decisions.c.lead_id, newer.c.revision > decisions.c.revision)
        .exists()
    )


REPORTED_KINDS = ("received", "status", "meeting")  # what a report counts, by event time


async def firm_leads(
    session: AsyncSession, firm_id: str, since: datetime, until: datetime
) -> list[LeadStanding]:
    """The leads whose current decision is about the firm and that were received, changed
    stage or had a meeting in ``[since, until)`` (all a report over that window counts),
    with their facts (SP9 reports): one read of the decisions, one of all their facts."""
    in_window = (
        select(facts.c.lead_id)
        .where(
            facts.c.kind.in_(REPORTED_KINDS),
            facts.c.occurred_at >= since,
            facts.c.occurred_at < until,
        )
        .distinct()
    )
    rows = (
        await session.execute(
            select(decisions).where(
                decisions.c.firm_id == firm_id,
                decisions.c.lead_id.in_(in_window),
                is_current(),
            )
        )
    ).all()
    all_facts = await store.lead_facts_of(
        await driver_connection(session), [r.lead_id for r in rows]
    )
    standings = []
    for row in rows:
        reasons = row.event.get("reasons") or [{}]
        standings.append(
            LeadStanding(
                all_facts[row.lead_id],
                row.state,
                Decimal(row.amount),
                reasons[0].get("sentence", ""),
            )
        )
    return standings
