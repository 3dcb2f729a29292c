"""The ledger on the real database: append-only, one entry per lead and decision revision,
so nothing is paid twice — also when many transactions re-decide one lead at once, and
when its facts are applied concurrently by different consumers."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

from sqlalchemy import select

from services.credit import report_queries, store
from services.credit.service import redecide
from services.credit.tables import ledger
from shared.db import SessionFactory, driver_connection
from tests.integration.credit.conftest import (
    OUTBOX,
    apply,
    current,
    ledger_of,
    new_firm,
    new_lead,
    published,
)

MONDAY = datetime(2026, 11, 2, 9, tzinfo=UTC)


async def test_concurrent_redecides_of_one_lead_book_it_once(sessions: SessionFactory) -> None:
    firm = await new_firm(sessions, pays_for="lead")
    lead = await new_lead(sessions, firm, MONDAY)
    accepted = firm.status(lead, "accepted", MONDAY + timedelta(hours=2))
    async with sessions() as session, session.begin():  # the fact, without deciding
        await store.add_fact(
            session,
            store.FactRow(
                accepted.id,
                lead,
                "status",
                MONDAY + timedelta(hours=2),
                {"stage": "accepted", "reason_code": None},
            ),
        )

    async def one() -> None:
        async with sessions() as session, session.begin():
            await redecide(session, OUTBOX, lead)

    await asyncio.gather(*(one() for _ in range(8)))
    row = await current(sessions, lead)
    assert (row.revision, row.state, row.amount) == (2, "credited", Decimal("150.00"))
    assert await ledger_of(sessions, lead) == [(2, Decimal("150.00"))]
    assert [e["revision"] for e in await published(sessions, lead)] == [1, 2]


async def test_facts_applied_at_once_by_different_consumers_are_all_paid_once(
    sessions: SessionFactory,
) -> None:
    """The acceptance, a held meeting and a second meeting held, each applied in its own
    transaction at the same time: the ledger ends equal to the final amount, one entry
    per revision that changed it."""
    firm = await new_firm(sessions)
    lead = await new_lead(sessions, firm, MONDAY)
    one, two = uuid4(), uuid4()
    facts = [
        firm.status(lead, "accepted", MONDAY + timedelta(hours=1)),
        firm.meeting(lead, one, "held", MONDAY + timedelta(days=1)),
        firm.meeting(lead, two, "held", MONDAY + timedelta(days=2)),
    ]
    await asyncio.gather(*(apply(sessions, fact) for fact in facts))
    row = await current(sessions, lead)
    assert (row.state, row.amount) == ("credited", Decimal("850.00"))  # 150 + 2 x 350
    entries = await ledger_of(sessions, lead)
    assert sum(amount for _, amount in entries) == Decimal("850.00")
    assert len({revision for revision, _ in entries}) == len(entries)
    assert [e["revision"] for e in await published(sessions, lead)] == list(
        range(1, row.revision + 1)
    )


async def test_a_ledger_entry_for_the_same_revision_is_never_booked_twice(
    sessions: SessionFactory,
) -> None:
    lead = uuid4()
    entry = store.LedgerEntry(
        lead, 1, "acme", "credit", Decimal("150.00"), "USD", 0, "2026-11", date(2026, 12, 2), "test"
    )
    for _ in range(2):
        async with sessions() as session, session.begin():
            await store.add_ledger_entries(await driver_connection(session), [entry])
    assert await ledger_of(sessions, lead) == [(1, Decimal("150.00"))]


async def test_a_return_claws_back_with_a_negative_entry_and_the_statement_nets_it(
    sessions: SessionFactory,
) -> None:
    firm = await new_firm(sessions, pays_for="lead", acceptance_business_days=0, holding_days=30)
    lead = await new_lead(sessions, firm, MONDAY)
    await apply(sessions, firm.status(lead, "rejected", MONDAY + timedelta(days=3), "not_icp"))
    assert (await current(sessions, lead)).state == "reversed"
    assert [amount for _, amount in await ledger_of(sessions, lead)] == [
        Decimal("150.00"),
        Decimal("-150.00"),
    ]
    async with sessions() as session:
        lines = await report_queries.statement_lines(session, firm.firm_id, "2026-11")
        kinds = (
            await session.execute(select(ledger.c.kind).where(ledger.c.lead_id == lead))
        ).scalars()
        assert list(kinds) == ["credit", "clawback"]
    assert lines[0]["payable_on"] == date(2026, 12, 2)  # 30 days held
