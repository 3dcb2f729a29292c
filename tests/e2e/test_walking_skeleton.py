"""One lead the whole way: intake → leads.received → router → leads.routed → credit →
credits.decided, through the running services, the real database and the real broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from services.stack import load_demo, log_demo_touch
from shared.events.credit import CreditDecided
from shared.events.leads import LeadReceived
from shared.events.routing import LeadRouted
from tests.support.kafka import read_until
from tests.support.stack import Stack


@pytest.fixture(scope="module")
def demo_stack(stack: Stack) -> Stack:
    asyncio.run(load_demo(stack.infra.database_url))
    return stack


async def poll(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    done: Callable[[Any], bool] = lambda _: True,
) -> Any:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = await client.get(url, headers=headers)
        if answer.status_code == 200 and done(answer.json()):
            return answer.json()
        assert answer.status_code in (200, 404), answer.text
        await asyncio.sleep(0.2)
    raise AssertionError(f"{url} never answered 200")


async def test_a_lead_on_a_firm_assigned_account_is_routed_and_credited(demo_stack: Stack) -> None:
    urls, auth = demo_stack.urls, demo_stack.auth
    lead = {
        "email": "Jordan.Lee@Mail.Walmart.com",
        "name": "Jordan Lee",
        "company": "Walmart Inc.",
        "title": "Director of IT",
        "phone": "(479) 273-4000",
        "country": "United States",
        "source": "website",
        "campaign": "demo-request",
    }
    # The demo firm logged a call on the account three days ago (sticking point 3).
    await asyncio.to_thread(log_demo_touch, urls["intake"], auth)
    async with httpx.AsyncClient(timeout=10) as client:
        accepted = await client.post(f"{urls['intake']}/v1/leads", json=lead, headers=auth)
        assert accepted.status_code == 202, accepted.text
        lead_id = accepted.json()["lead_id"]

        stored = (await client.get(f"{urls['intake']}/v1/leads/{lead_id}", headers=auth)).json()
        assert stored["email"] == "jordan.lee@mail.walmart.com"
        assert stored["email_domain"] == "walmart.com"
        assert stored["phone"] == "+14792734000"
        assert stored["country"] == "US"

        routing = await poll(client, f"{urls['router']}/v1/leads/{lead_id}/routing", auth)
        decision = routing["decision"]
        assert decision["owner"]["name"] == "Dana Ortiz"
        assert decision["account"]["method"] == "domain"
        assert decision["firm_assignment"]["firm_id"] == "acme-outreach"
        assert "do_not_market" in decision["flags"]
        assert decision["explanation"].startswith("Routed to Dana Ortiz (AE)")
        assert decision["trace"][0]["rule"] == "match.domain"

        credit = await poll(
            client,
            f"{urls['credit']}/v1/leads/{lead_id}/credit",
            auth,
            lambda d: d["decision"]["state"] == "credited",
        )
        assert credit["decision"]["state"] == "credited"
        assert credit["decision"]["firm_id"] == "acme-outreach"
        assert credit["decision"]["reasons"]

    bootstrap = demo_stack.infra.bootstrap_servers

    def has(model: type[LeadReceived] | type[LeadRouted] | type[CreditDecided]) -> Any:
        return lambda seen: any(
            e.type == model.event_type and e.data["lead_id"] == lead_id for e in seen
        )

    for topic, model in (
        ("leads.received", LeadReceived),
        ("leads.routed", LeadRouted),
        ("credits.decided", CreditDecided),
    ):
        seen = await read_until(bootstrap, topic, has(model))
        assert has(model)(seen), f"no {model.event_type} for the lead on {topic}"


async def test_a_lead_nobody_owns_is_queued_and_not_eligible(demo_stack: Stack) -> None:
    urls, auth = demo_stack.urls, demo_stack.auth
    async with httpx.AsyncClient(timeout=10) as client:
        accepted = await client.post(
            f"{urls['intake']}/v1/leads", json={"email": "someone@gmail.com"}, headers=auth
        )
        lead_id = accepted.json()["lead_id"]
        routing = await poll(client, f"{urls['router']}/v1/leads/{lead_id}/routing", auth)
        assert routing["decision"]["queue"] == "unassigned"
        assert routing["decision"]["owner"] is None
        credit = await poll(client, f"{urls['credit']}/v1/leads/{lead_id}/credit", auth)
        assert credit["decision"]["state"] == "not_eligible"


async def test_bad_input_gets_a_problem_naming_the_field_and_changes_nothing(
    demo_stack: Stack,
) -> None:
    urls, auth = demo_stack.urls, demo_stack.auth
    async with httpx.AsyncClient(timeout=10) as client:
        bad = await client.post(
            f"{urls['intake']}/v1/leads",
            json={"email": "not-an-email", "phone": "12"},
            headers=auth,
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        fields = {e["field"] for e in bad.json()["errors"]}
        assert "email" in fields

        missing = await client.post(f"{urls['intake']}/v1/leads", json={}, headers=auth)
        assert missing.status_code == 422
        assert missing.json()["errors"][0]["field"] == "email"

        garbage = await client.post(
            f"{urls['intake']}/v1/leads",
            content=b"\xff{",
            headers={**auth, "content-type": "application/json"},
        )
        assert garbage.status_code == 400  # not JSON at all: a bad request, not a bad field
        assert garbage.headers["content-type"] == "application/problem+json"

        anonymous = await client.post(f"{urls['intake']}/v1/leads", json={"email": "a@b.com"})
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"

        huge = await client.post(
            f"{urls['intake']}/v1/leads",
            content=b"x" * 2_000_000,
            headers={**auth, "content-type": "application/json"},
        )
        assert huge.status_code == 413

        unknown = await client.get(
            f"{urls['router']}/v1/leads/00000000-0000-0000-0000-000000000000/routing",
            headers=auth,
        )
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"


async def test_health_readiness_and_metrics(demo_stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for url in demo_stack.urls.values():
            assert (await client.get(f"{url}/healthz")).json() == {"status": "ok"}
            ready = await client.get(f"{url}/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
            metrics = await client.get(f"{url}/metrics")
            assert "leadflow_http_requests_total" in metrics.text
