"""The lead lifecycle end to end, through the running services and the broker: a firm's
lead is routed with SLA timers in its owner's New York business hours; an illegal move
is a 409 problem; sales accepts it on the router (timers stop, ``lead.status_changed``
is published); the firm books a meeting and sales records it held through intake, and
the router's lifecycle follows from ``meetings.updated``."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import datetime
from typing import Any

import httpx

from services.router.domain.sla import SlaPolicy, plan
from shared.business_hours import BusinessHours
from shared.events.status import LeadStatusChanged
from tests.support.kafka import read_until
from tests.support.stack import Stack

HOURS = {"timezone": "America/New_York", "country": "US"}
SLA = {"name": "accept-2h", "accept_within_minutes": 120}


async def _lifecycle(
    client: httpx.AsyncClient, stack: Stack, lead_id: str, stage: str
) -> dict[str, Any]:
    url = f"{stack.urls['router']}/v1/leads/{lead_id}/lifecycle"
    deadline = time.monotonic() + 60
    last: Any = None
    while time.monotonic() < deadline:
        answer = await client.get(url, headers=stack.auth)
        assert answer.status_code in (200, 404), answer.text
        last = answer.json()
        if answer.status_code == 200 and last["stage"] == stage:
            return dict(last)
        await asyncio.sleep(0.2)
    raise AssertionError(f"lead {lead_id} never reached {stage}: {last}")


async def test_a_lead_moves_through_its_lifecycle_across_the_services(stack: Stack) -> None:
    tag = secrets.token_hex(3)
    router, intake, auth = stack.urls["router"], stack.urls["intake"], stack.auth
    firm, domain = f"firm-{tag}", f"lifecycle-{tag}.com"
    async with httpx.AsyncClient(timeout=30) as client:
        for url, body in (
            (f"{router}/v1/teams/t-{tag}", {"name": f"T {tag}", "sla": SLA}),
            (
                f"{router}/v1/owners/amy-{tag}",
                {"name": "Amy", "role": "AE", "team_id": f"t-{tag}", "business_hours": HOURS},
            ),
            (
                f"{router}/v1/accounts/acc-{tag}",
                {
                    "name": f"Lifecycle {tag}",
                    "domains": [domain],
                    "owner_id": f"amy-{tag}",
                    "firm": {"firm_id": firm, "starts_on": "2026-01-01"},
                },
            ),
        ):
            answer = await client.put(url, json=body, headers=auth)
            assert answer.status_code == 200, answer.text
        made = await client.post(
            f"{intake}/v1/firms", json={"firm_id": firm, "name": firm}, headers=auth
        )
        assert made.status_code == 201, made.text
        key = await client.post(f"{intake}/v1/firms/{firm}/keys", headers=auth)
        partner = {"Authorization": f"Bearer {key.json()['token']}"}
        submitted = await client.post(
            f"{intake}/v1/partner/leads",
            json={"email": f"pat@{domain}", "company": f"Lifecycle {tag}"},
            headers=partner,
        )
        assert submitted.status_code in (201, 202), submitted.text
        lead_id = submitted.json()["results"][0]["id"]
        stage_url = f"{router}/v1/leads/{lead_id}/stage"

        routed = await _lifecycle(client, stack, lead_id, "routed")
        assert routed["owner_id"] == f"amy-{tag}"
        routed_at = datetime.fromisoformat(routed["history"][-1]["occurred_at"])
        expected = plan(
            SlaPolicy.model_validate(SLA),
            BusinessHours.model_validate(HOURS).calendar(),
            routed_at,
        )
        assert [
            (t["kind"], datetime.fromisoformat(t["fire_at"])) for t in routed["pending_timers"]
        ] == [(t.kind, t.fire_at) for t in expected]

        illegal = await client.post(stage_url, json={"stage": "opportunity"}, headers=auth)
        assert illegal.status_code == 409
        assert illegal.headers["content-type"] == "application/problem+json"
        assert illegal.json()["errors"] == [
            {"field": "stage", "reason": "from routed; allowed: accepted, rejected"}
        ]

        accepted = await client.post(stage_url, json={"stage": "accepted"}, headers=auth)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["pending_timers"] == []

        booked = await client.post(
            f"{intake}/v1/partner/meetings",
            json={"contact_email": f"pat@{domain}", "lead_id": lead_id},
            headers=partner,
        )
        assert booked.status_code == 201, booked.text
        await _lifecycle(client, stack, lead_id, "meeting_booked")
        held = await client.post(
            f"{intake}/v1/meetings/{booked.json()['meeting_id']}/outcome",
            json={"status": "held"},
            headers=auth,
        )
        assert held.status_code == 200, held.text
        final = await _lifecycle(client, stack, lead_id, "meeting_held")
    assert [h["stage"] for h in final["history"]] == [
        "received",
        "routed",
        "accepted",
        "meeting_booked",
        "meeting_held",
    ]
    assert all(h["in_order"] for h in final["history"])

    seen = await read_until(
        stack.infra.bootstrap_servers,
        "leads.status",
        lambda found: any(e.data.get("lead_id") == lead_id for e in found),
    )
    changes = [
        (e.source, e.data["stage"])
        for e in seen
        if e.type == LeadStatusChanged.event_type and e.data["lead_id"] == lead_id
    ]
    assert changes == [("/router", "accepted")]
