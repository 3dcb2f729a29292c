"""The demo firm's contract (acme-outreach), loaded by ``leadflow up`` with the demo
workspace; a second load adds nothing. It has no acceptance step (a lead counts on
arrival, sales may still return it within the return window), so the demo lead is
credited at once."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import store
from services.credit.domain.contract import Terms

DEMO_FIRM = "acme-outreach"
DEMO_TERMS = Terms(
    starts_on=date(2026, 1, 1),
    ends_on=date(2026, 12, 31),
    notice_days=30,
    acceptance_business_days=0,
)


async def seed_demo_contract(session: AsyncSession) -> None:
    async with session.begin():
        if await store.current_contract(session, DEMO_FIRM) is None:
            await store.add_contract(session, DEMO_FIRM, DEMO_TERMS)
