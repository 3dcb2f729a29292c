"""A small routing workspace of its own per test (unique ids), on the real database."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select

from services.router import workspace
from services.router.api.schemas import AccountIn, FirmAssignmentIn, OwnerIn, TeamIn
from services.router.domain.ruleset import RuleSet
from shared.db import SessionFactory
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from shared.outbox import Outbox
from shared.plumbing_tables import outbox_table

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
