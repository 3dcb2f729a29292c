"""The demo workspace: a few owners, a team with a territory, and accounts, one of them
assigned to an outside firm and one a customer.

Loaded by ``leadflow up`` (and ``leadflow demo``); upserts, so loading twice is harmless.
Its dates are relative to the day it is loaded: the demo never expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from services.router.domain.names import name_block
from services.router.tables import SCHEMA, AccountRow, OwnerRow, TeamRow, TerritoryRow
from services.router.workspace import owner_out, owner_updated
from shared.events.envelope import utcnow
from shared.outbox import Outbox

TEAMS = [TeamRow(id="na-commercial", name="North America commercial", queue="na-commercial")]

TERRITORIES = [TerritoryRow(id="emea", name="EMEA", countries=["GB", "DE", "FR", "NL", "IE"])]

# The demo's people work around the clock, so that ``leadflow up`` shows its notifications
# (in the mail sink: ``leadflow mail``) whatever the hour; a real owner's notifications
# wait for the owner's business hours.
AROUND_THE_CLOCK = {
    "timezone": "UTC",
    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "opens": "00:00:00",
    "closes": "23:59:59",
}


def _owner(owner_id: str, name: str, role: str, **values: Any) -> OwnerRow:
    email = name.lower().replace(" ", ".") + "@example.com"
    return OwnerRow(
        id=owner_id,
        name=name,
        role=role,
        business_hours=AROUND_THE_CLOCK,
        notify={"email": email},
        **values,
    )


OWNERS = [  # the manager first: the others name her
    _owner("own-morgan", "Morgan Reyes", "manager"),
    _owner("own-dana", "Dana Ortiz", "AE", team_id="na-commercial", manager_id="own-morgan"),
    _owner("own-lee", "Lee Chen", "AE", team_id="na-commercial", weight=2, manager_id="own-morgan"),
    _owner("own-sam", "Sam Patel", "AM", manager_id="own-morgan"),
]


@dataclass(frozen=True)
class FirmPeriod:
    starts_on: date
    ends_on: date
    notice_ends_on: date


NOTICE = timedelta(days=30)  # the demo contract's notice_days


def demo_firm_period(today: date) -> FirmPeriod:
    """The demo firm's assignment around ``today``: from the first of January last year
    to the end of next year, then 30 days' notice. In force whatever the day, and the same
    all year long, so reloading the demo changes nothing until the year turns."""
    ends_on = date(today.year + 1, 12, 31)
    return FirmPeriod(date(today.year - 1, 1, 1), ends_on, ends_on + NOTICE)


def _account(**values: Any) -> AccountRow:
    return AccountRow(name_block=name_block(values["name"]), **values)


def demo_accounts(period: FirmPeriod) -> list[AccountRow]:
    return [
        _account(
            id="acc-walmart",
            name="Walmart",
            domains=["walmart.com", "samsclub.com"],
            owner_id="own-dana",
            firm_id="acme-outreach",
            firm_starts_on=period.starts_on,
            firm_ends_on=period.ends_on,
            firm_notice_ends_on=period.notice_ends_on,
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


async def seed_demo(session: AsyncSession, period: FirmPeriod | None = None) -> None:
    """Load the workspace; the firm's assignment over ``period`` (default: around today).
    The owners' records are published on ``owners.updated`` (the router's outbox), as an
    owner put through the API is."""
    period = period or demo_firm_period(datetime.now(UTC).date())
    groups: list[tuple[type[SQLModel], list[Any]]] = [
        (TeamRow, TEAMS),
        (TerritoryRow, TERRITORIES),
        (OwnerRow, OWNERS),
        (AccountRow, demo_accounts(period)),
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
        outbox, now = Outbox(SCHEMA, source="/router"), utcnow()
        for owner in OWNERS:
            stored = await session.get(OwnerRow, owner.id, populate_existing=True)
            assert stored is not None
            await outbox.add(session, owner_updated(owner_out(stored), now))
