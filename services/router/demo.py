"""The demo workspace: a few owners and accounts, one of them assigned to an outside firm.

Loaded by ``leadflow up`` (and ``leadflow demo``); upserts, so loading twice is harmless.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.router.store import AccountRow, OwnerRow

OWNERS = [
    OwnerRow(id="own-dana", name="Dana Ortiz", role="AE"),
    OwnerRow(id="own-lee", name="Lee Chen", role="AE"),
    OwnerRow(id="own-sam", name="Sam Patel", role="AM"),
]

ACCOUNTS = [
    AccountRow(
        id="acc-walmart",
        name="Walmart",
        domains=["walmart.com", "samsclub.com"],
        owner_id="own-dana",
        firm_id="acme-outreach",
        firm_starts_on=date(2026, 1, 1),
        firm_ends_on=date(2026, 12, 31),
        firm_notice_ends_on=date(2027, 1, 30),
    ),
    AccountRow(id="acc-initech", name="Initech", domains=["initech.com"], owner_id="own-lee"),
    AccountRow(id="acc-globex", name="Globex", domains=["globex.com"], owner_id="own-sam"),
]


async def seed_demo(session: AsyncSession) -> None:
    async with session.begin():
        for model, rows in ((OwnerRow, OWNERS), (AccountRow, ACCOUNTS)):
            for row in rows:
                values = row.model_dump()
                statement = insert(model).values(**values)
                await session.execute(
                    statement.on_conflict_do_update(index_elements=["id"], set_=values)
                )
