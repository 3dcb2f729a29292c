"""The cached workspace across instances: an admin write made through one router
instance's API (an owner deactivated, a rule set activated) is what another instance,
with its own connections and a warm cache, routes the very next lead on. Capacity counts
are never cached; routing itself does not move the workspace version."""

from __future__ import annotations

import secrets
from datetime import datetime

import yaml

from services.router import settled, store, workspace
from services.router.consumer import on_leads_received
from services.router.schemas import OwnerIn, TeamIn
from services.router.tables import RoutingDecisionRow
from shared.consumer import Incoming
from shared.db import SessionFactory
from tests.integration.router.conftest import (
    OPS,
    OUTBOX,
    FakeClock,
    envelope_of,
    ny,
    received,
    running_router,
)
from tests.support.infra import Infra

NOW = ny(24, 10)


async def _route(sessions: SessionFactory, domain: str, now: datetime) -> RoutingDecisionRow:
    """A lead through instance B's ``lead.received`` handler; its decision."""
    lead = received(domain, country="US")
    async with sessions() as session, session.begin():
        await on_leads_received(
            session, [Incoming(envelope_of(lead), "leads.received")], OUTBOX, clock=lambda: now
        )
    async with sessions() as session:
        row = await session.get(RoutingDecisionRow, (lead.lead_id, 1))
    assert row is not None
    return row


async def test_an_admin_write_on_one_instance_is_seen_by_another_on_its_next_lead(
    infra: Infra, own_database: str, own_sessions: SessionFactory
) -> None:
    tag = secrets.token_hex(4)
    team, ana, ben = f"team-{tag}", f"ana-{tag}", f"ben-{tag}"
    ruleset = {
        "version": f"cache-{tag}",
        "rules": [
            {"kind": "territory", "name": "us", "when": {"countries": ["US"]}, "team": team},
            {"kind": "unassigned"},
        ],
    }
    async with running_router(infra, own_database, FakeClock(NOW)) as instance_a:
        for path, body in (
            (f"/v1/teams/{team}", {"name": "Team"}),
            (f"/v1/owners/{ana}", {"name": "Ana", "role": "AE", "team_id": team}),
            (f"/v1/owners/{ben}", {"name": "Ben", "role": "AE", "team_id": team}),
        ):
            (await instance_a.put(path, json=body, headers=OPS)).raise_for_status()

        # Instance B warms its cache on the rule set in force before the upload.
        before = await _route(own_sessions, f"nobody-{tag}.com", NOW)
        assert before.ruleset_version != ruleset["version"]

        upload = await instance_a.post(
            "/v1/rulesets",
            content=yaml.safe_dump(ruleset),
            headers=OPS | {"Content-Type": "application/yaml"},
        )
        assert upload.status_code == 201, upload.text
        activated = await instance_a.post(
            f"/v1/rulesets/{ruleset['version']}/activate", headers=OPS
        )
        assert activated.status_code == 200, activated.text
        first = await _route(own_sessions, f"nobody-{tag}.com", NOW)
        assert first.ruleset_version == ruleset["version"]
        second = await _route(own_sessions, f"nobody-{tag}.com", NOW)
        assert {first.owner_id, second.owner_id} == {ana, ben}  # equal weights alternate

        deactivate = {"name": "Ana", "role": "AE", "team_id": team, "active": False}
        (await instance_a.put(f"/v1/owners/{ana}", json=deactivate, headers=OPS)).raise_for_status()
        after = [await _route(own_sessions, f"nobody-{tag}.com", NOW) for _ in range(3)]
        assert [d.owner_id for d in after] == [ben, ben, ben]


async def test_capacity_counts_are_read_per_lead_and_routing_keeps_the_version(
    own_sessions: SessionFactory,
) -> None:
    tag = secrets.token_hex(4)
    team, ana, ben = f"team-{tag}", f"ana-{tag}", f"ben-{tag}"
    async with own_sessions() as session, session.begin():
        await workspace.put_team(session, team, TeamIn(name="Team"))
        await workspace.put_owner(
            session, OUTBOX, ana, OwnerIn(name="Ana", role="AE", team_id=team)
        )
        await workspace.put_owner(
            session, OUTBOX, ben, OwnerIn(name="Ben", role="AE", team_id=team, capacity=1)
        )
    async with own_sessions() as session:
        version = (await settled.counts(session)).version

    ruleset = yaml.safe_dump(
        {
            "version": f"cap-{tag}",
            "rules": [
                {"kind": "territory", "name": "us", "when": {"countries": ["US"]}, "team": team},
                {"kind": "unassigned"},
            ],
        }
    )
    async with own_sessions() as session, session.begin():
        await store.save_ruleset(session, ruleset)
        await store.activate_ruleset(session, f"cap-{tag}", NOW)
    async with own_sessions() as session:
        activated = (await settled.counts(session)).version
    assert activated != version

    owners = [(await _route(own_sessions, f"nobody-{tag}.com", NOW)).owner_id for _ in range(4)]
    assert owners.count(ben) == 1  # his one place is taken, and that is read on every lead
    assert owners.count(ana) == 3
    async with own_sessions() as session:
        assert (await settled.counts(session)).version == activated  # open leads moved only
