"""The demo workspace: a few owners, a team with a territory, and accounts, one of them
assigned to an outside firm and one a customer.

Loaded by ``leadflow up`` (and ``leadflow demo``); upserts, so loading twice is harmless.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from services.router.domain.names import name_block
from services.router.tables import AccountRow, OwnerRow, TeamRow, TerritoryRow

TEAMS = [TeamRow(id="na-commercial", name="North America commercial", queue="na-commercial")]

TERRITORIES = [TerritoryRow(id="emea", name="EMEA", countries=["GB", "DE", "FR", "NL", "IE"])]

OWNERS = [
    OwnerRow(id="own-dana", name="Dana Ortiz", role="AE", team_id="na-commercial"),
    OwnerRow(id="own-lee", name="Lee Chen", role="AE", team_id="na-commercial", weight=2),
    OwnerRow(id="own-sam", name="Sam Patel", role="AM"),
]


def _account(**values: Any) -> AccountRow:
    return AccountRow(name_block=name_block(values["name"]), **values)


ACCOUNTS = [
    _account(
        id="acc-walmart",
        name="Walmart",
        domains=["walmart.com", "samsclub.com"],
        owner_id="own-dana",
        firm_id="acme-outreach",
        firm_starts_on=date(2026, 1, 1),
        firm_ends_on=date(2026, 12, 31),
        firm_notice_ends_on=date(2027, 1, 30),
        country="US",
        employees=2_100_000,
        industry="retail",
    ),
    _account(id="acc-initech", name="Initech", domains=["initech.com"], owner_id="own-lee"),
    _account(
        id="acc-globex",
        name="Globex",
        domains=["globex.com"],
        owner_id="own-lee",
        account_manager_id="own-sam",
        customer=True,
    ),
]


async def seed_demo(session: AsyncSession) -> None:
    groups: list[tuple[type[SQLModel], list[Any]]] = [
        (TeamRow, TEAMS),
        (TerritoryRow, TERRITORIES),
        (OwnerRow, OWNERS),
        (AccountRow, ACCOUNTS),
    ]
    async with session.begin():
        for model, rows in groups:
            for row in rows:
                values = row.model_dump(exclude_none=False)
                if model is OwnerRow:
                    values.pop("open_leads")  # a reload must not reset capacity counts
                statement = insert(model).values(**values)
                await session.execute(
                    statement.on_conflict_do_update(index_elements=["id"], set_=values)
                )
