"""A firm's report reads only the leads with something in its window (received, a stage
change, a meeting), not every lead the firm ever had."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from services.credit import report_queries
from shared.db import SessionFactory
from tests.integration.credit.conftest import apply, new_firm, new_lead

MONDAY = datetime(2026, 11, 2, 9, tzinfo=UTC)
DAY = timedelta(days=1)


async def _leads_between(
    sessions: SessionFactory, firm_id: str, since: datetime, until: datetime
) -> set[UUID]:
    async with sessions() as session:
        leads = await report_queries.firm_leads(session, firm_id, since, until)
    return {s.facts.lead_id for s in leads}


async def test_a_report_window_holds_the_leads_that_had_something_in_it(
    sessions: SessionFactory,
) -> None:
    firm = await new_firm(sessions, pays_for="lead", acceptance_business_days=0)
    accepted_later = await new_lead(sessions, firm, MONDAY)
    await apply(sessions, firm.status(accepted_later, "accepted", MONDAY + 2 * DAY))
    tuesdays = await new_lead(sessions, firm, MONDAY + DAY)
    met_on_thursday = await new_lead(sessions, firm, MONDAY - 30 * DAY)
    await apply(sessions, firm.meeting(met_on_thursday, uuid4(), "held", MONDAY + 3 * DAY))
    other = await new_firm(sessions, pays_for="lead", acceptance_business_days=0)
    await new_lead(sessions, other, MONDAY)

    day = MONDAY.replace(hour=0)
    assert await _leads_between(sessions, firm.firm_id, day, day + DAY) == {accepted_later}
    assert await _leads_between(sessions, firm.firm_id, day + DAY, day + 2 * DAY) == {tuesdays}
    assert await _leads_between(sessions, firm.firm_id, day + 2 * DAY, day + 3 * DAY) == {
        accepted_later
    }
    assert await _leads_between(sessions, firm.firm_id, day + 3 * DAY, day + 4 * DAY) == {
        met_on_thursday
    }
    assert await _leads_between(sessions, firm.firm_id, day + 4 * DAY, day + 5 * DAY) == set()
