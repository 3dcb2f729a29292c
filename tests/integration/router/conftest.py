"""A small routing workspace of its own per test (unique ids), on the real database; for
the lifecycle and SLA tests, a database of their own, a driven clock and New York owners."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from services.router import workspace
from services.router.app import create_app
from services.router.domain.ruleset import RuleSet
from services.router.domain.sla import SlaPolicy
from services.router.schemas import AccountIn, FirmAssignmentIn, OwnerIn, TeamIn
from services.router.tables import SlaTimerRow
from shared.business_hours import BusinessHours
from shared.db import SessionFactory, make_engine, make_sessions
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from shared.outbox import Outbox
from shared.plumbing_tables import outbox_table
from tests.support.credentials import ADMIN
from tests.support.infra import Infra, fresh_database

OUTBOX = Outbox("router", source="/router")


@dataclass(frozen=True)
class Workspace:
    tag: str
    team: str
    ruleset: RuleSet

    def id(self, name: str) -> str:
        return f"{name}-{self.tag}"

    def domain(self, name: str) -> str:
        return f"{name}-{self.tag}.com"


def received(
    domain: str, *, company: str | None = None, country: str | None = None
) -> LeadReceived:
    return LeadReceived(
        lead_id=uuid4(),
        received_at=datetime(2026, 11, 20, 15, tzinfo=UTC),
        channel="api",
        source="test",
        email=f"someone@{domain}",
        email_domain=domain,
        company=company,
        country=country,
    )


def envelope_of(event: Any) -> Envelope:
    envelope: Envelope = event.envelope("/test")
    return envelope


@pytest.fixture
async def ws(sessions: SessionFactory) -> Workspace:
    tag = secrets.token_hex(4)
    team = f"team-{tag}"
    ruleset = RuleSet.model_validate(
        {
            "version": f"test-{tag}",
            "rules": [
                {"kind": "customer"},
                {"kind": "firm_assignment"},
                {"kind": "named_owner"},
                {"kind": "territory", "name": "us", "when": {"countries": ["US"]}, "team": team},
                {"kind": "unassigned"},
            ],
        }
    )
    space = Workspace(tag, team, ruleset)
    async with sessions() as session, session.begin():
        await workspace.put_team(session, team, TeamIn(name=f"Team {tag}"))
        for name, role, weight in (("ana", "AE", 1), ("ben", "AE", 2), ("cy", "AM", 1)):
            await workspace.put_owner(
                session,
                OUTBOX,
                space.id(name),
                OwnerIn(name=name.title(), role=role, team_id=team, weight=weight),
            )
        await workspace.put_account(
            session,
            OUTBOX,
            space.id("acme"),
            AccountIn(
                name=f"Acme {tag}",
                domains=[space.domain("acme")],
                owner_id=space.id("ana"),
                firm=FirmAssignmentIn(
                    firm_id=f"firm-{tag}",
                    starts_on=date(2026, 1, 1),
                    ends_on=date(2026, 10, 31),
                    notice_ends_on=date(2026, 11, 30),
                ),
            ),
        )
    return space


async def outbox_events(sessions: SessionFactory, lead_id: UUID) -> list[Envelope]:
    table = outbox_table("router")
    async with sessions() as session:
        rows = (await session.execute(select(table.c.payload).order_by(table.c.id))).scalars()
        found = [Envelope.model_validate(p) for p in rows]
    return [e for e in found if e.data.get("lead_id") == str(lead_id)]


# SLA and lifecycle: a database of the module's own (so no other test's timers fire in
# it), a clock the test drives, owners in New York with US holidays.

NEW_YORK = ZoneInfo("America/New_York")
US_HOURS = BusinessHours(timezone="America/New_York", country="US")
EIGHT_HOURS = SlaPolicy(name="accept-8h", accept_within_minutes=480)


def ny(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NEW_YORK)


class FakeClock:
    """The router's clock in tests: it stands still until the test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now.astimezone(UTC)


@pytest.fixture(scope="module")
def own_database(infra: Infra) -> Iterator[str]:
    with fresh_database(infra) as url:
        yield url


@pytest.fixture
async def own_sessions(own_database: str) -> AsyncIterator[SessionFactory]:
    engine = make_engine(own_database, pool_size=5)
    try:
        yield make_sessions(engine)
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class SlaSpace:
    """A team with an 8-business-hour SLA; ana and ben (AEs) and their manager mia, all
    in New York with US holidays; the account acme owned by ana."""

    tag: str
    team: str
    ruleset: RuleSet

    def id(self, name: str) -> str:
        return f"{name}-{self.tag}"

    def domain(self, name: str) -> str:
        return f"{name}-{self.tag}.com"

    def lead(self, name: str = "acme") -> LeadReceived:
        return received(self.domain(name))


async def sla_space(sessions: SessionFactory) -> SlaSpace:
    tag = secrets.token_hex(4)
    team = f"team-{tag}"
    ruleset = RuleSet.model_validate(
        {
            "version": f"sla-{tag}",
            "rules": [
                {"kind": "named_owner"},
                {"kind": "territory", "name": "us", "when": {"countries": ["US"]}, "team": team},
                {"kind": "unassigned"},
            ],
        }
    )
    space = SlaSpace(tag, team, ruleset)
    async with sessions() as session, session.begin():
        await workspace.put_team(session, team, TeamIn(name=f"Team {tag}", sla=EIGHT_HOURS))
        await workspace.put_owner(
            session,
            OUTBOX,
            space.id("mia"),
            OwnerIn(name="Mia", role="manager", team_id=team, weight=0, business_hours=US_HOURS),
        )
        for name in ("ana", "ben"):
            await workspace.put_owner(
                session,
                OUTBOX,
                space.id(name),
                OwnerIn(
                    name=name.title(),
                    role="AE",
                    team_id=team,
                    manager_id=space.id("mia"),
                    business_hours=US_HOURS,
                ),
            )
        await workspace.put_account(
            session,
            OUTBOX,
            space.id("acme"),
            AccountIn(name=f"Acme {tag}", domains=[space.domain("acme")], owner_id=space.id("ana")),
        )
    return space


async def timers_of(sessions: SessionFactory, lead_id: UUID) -> list[SlaTimerRow]:
    async with sessions() as session:
        query = (
            select(SlaTimerRow)
            .where(col(SlaTimerRow.lead_id) == lead_id)
            .order_by(col(SlaTimerRow.id))
        )
        return list((await session.execute(query)).scalars())


TOKEN = ADMIN
OPS = {"Authorization": f"Bearer {TOKEN}"}


@contextlib.asynccontextmanager
async def running_router(
    infra: Infra, database_url: str, clock: FakeClock, *, sla_tick_s: float = 0.1
) -> AsyncIterator[httpx.AsyncClient]:
    """A router instance in process (its real lifespan: relay to the real broker,
    consumers, SLA timer worker) on ``database_url``, driven by ``clock``."""
    settings = infra.settings(database_url=database_url)
    app = create_app(settings, clock=clock, sla_tick_s=sla_tick_s)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://router", timeout=30
        ) as client:
            yield client


async def outbox_drained(sessions: SessionFactory, timeout_s: float = 30) -> None:
    """Wait until the router's relay has published every event written so far."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        async with sessions() as session:
            if await OUTBOX.backlog(session) == 0:
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the router's outbox was not drained")
