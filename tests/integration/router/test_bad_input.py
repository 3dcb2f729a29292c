"""Inputs that were a 500 on the router: each is now a 422 problem naming the field, and
nothing changes (router in process on a database of its own, real broker)."""

from __future__ import annotations

from typing import Any

from services.router import service
from shared.db import SessionFactory
from tests.integration.router.conftest import (
    OPS,
    OUTBOX,
    FakeClock,
    ny,
    outbox_events,
    running_router,
    sla_space,
)
from tests.support.infra import Infra

PROBLEM = "application/problem+json"


def _names(answer: Any, field: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert [e["field"] for e in answer.json()["errors"]] == [field], answer.json()


async def test_bad_input_is_a_422_naming_the_field_and_changes_nothing(
    infra: Infra, own_database: str, own_sessions: SessionFactory
) -> None:
    space = await sla_space(own_sessions)
    clock = FakeClock(ny(24, 10))
    lead = space.lead()
    async with own_sessions() as session, session.begin():
        await service.route_new_lead(session, OUTBOX, lead, ruleset=space.ruleset, now=clock())
    async with running_router(infra, own_database, clock) as router:
        # A NUL in the domain went to PostgreSQL.
        _names(await router.get("/v1/accounts?domain=a%00b.com", headers=OPS), "domain")

        # An aware closing time was compared with the naive opening time (TypeError).
        ana = f"/v1/owners/{space.id('ana')}"
        before = (await router.get(ana, headers=OPS)).json()
        hours = {"timezone": "Europe/Berlin", "closes": "17:00:00+02:00"}
        aware = await router.put(
            ana, json={"name": "Ana", "role": "AE", "business_hours": hours}, headers=OPS
        )
        _names(aware, "business_hours.closes")
        assert (await router.get(ana, headers=OPS)).json() == before
        new_owner = f"/v1/owners/{space.id('zoe')}"
        refused = await router.put(
            new_owner, json={"name": "Zoe", "role": "AE", "business_hours": hours}, headers=OPS
        )
        _names(refused, "business_hours.closes")
        assert (await router.get(new_owner, headers=OPS)).status_code == 404

        # A NUL in a stage comment went into the history (JSONB) and the event.
        lifecycle = f"/v1/leads/{lead.lead_id}/lifecycle"
        history = (await router.get(lifecycle, headers=OPS)).json()
        events = await outbox_events(own_sessions, lead.lead_id)
        stage = {"stage": "accepted", "comment": "call back \u0000 monday"}
        _names(
            await router.post(f"/v1/leads/{lead.lead_id}/stage", json=stage, headers=OPS),
            "comment",
        )
        assert (await router.get(lifecycle, headers=OPS)).json() == history
        assert history["stage"] == "routed"
        assert await outbox_events(own_sessions, lead.lead_id) == events

        accepted = await router.post(
            f"/v1/leads/{lead.lead_id}/stage",
            json={**stage, "comment": "call back monday"},
            headers=OPS,
        )
        assert accepted.status_code == 200, accepted.text


async def test_an_unreadable_account_csv_is_a_422_and_loads_nothing(
    infra: Infra, own_database: str, own_sessions: SessionFactory
) -> None:
    """A lone carriage return inside an unquoted field stopped the CSV reader with an
    error the endpoint did not map (500; found by the fuzz test)."""
    space = await sla_space(own_sessions)
    good, broken = space.id("good"), space.id("broken")
    body = f"id,name\n{good},Good Co\n{broken},Bro\rken\n".encode()
    async with running_router(infra, own_database, FakeClock(ny(24, 10))) as router:
        refused = await router.post(
            "/v1/accounts/import", content=body, headers={**OPS, "Content-Type": "text/csv"}
        )
        _names(refused, "body")
        assert "unreadable CSV" in refused.json()["detail"]
        for account in (good, broken):
            assert (await router.get(f"/v1/accounts/{account}", headers=OPS)).status_code == 404
