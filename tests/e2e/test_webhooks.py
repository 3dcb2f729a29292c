"""Outbound webhooks through the running services: a lead posted to intake is routed and
credit-decided, and a receiver subscribed to those types gets both as signed deliveries
(verified with the ``standardwebhooks`` library), each once."""

from __future__ import annotations

import secrets

import httpx

from tests.support.stack import Stack
from tests.support.webhooks import running_receiver, until

ROUTED, DECIDED = "leadflow.lead.routed.v1", "leadflow.credit.decided.v1"


async def test_a_lead_s_routing_and_credit_reach_a_subscribed_receiver(stack: Stack) -> None:
    async with running_receiver() as receiver, httpx.AsyncClient(timeout=10) as client:
        made = await client.post(
            f"{stack.urls['ops']}/v1/webhook-subscriptions",
            json={"url": receiver.url, "types": [ROUTED, DECIDED]},
            headers=stack.auth,
        )
        assert made.status_code == 201, made.text
        receiver.secret = made.json()["secret"]
        posted = await client.post(
            f"{stack.urls['intake']}/v1/leads",
            json={"email": f"hook-{secrets.token_hex(4)}@initech.com", "source": "website"},
            headers=stack.auth,
        )
        assert posted.status_code == 202, posted.text
        lead_id = posted.json()["lead_id"]

        def arrived() -> set[str]:
            return {e["type"] for e in receiver.kept.values() if e["data"]["lead_id"] == lead_id}

        await until(lambda: arrived() == {ROUTED, DECIDED}, timeout_s=60)
        routed = next(e for e in receiver.kept.values() if e["type"] == ROUTED)
        assert routed["data"]["explanation"]
        assert receiver.bad_signatures == 0
        assert receiver.repeats == 0
        path = f"{stack.urls['ops']}/v1/webhook-subscriptions/{made.json()['id']}/deliveries"

        async def all_delivered() -> bool:
            log = (await client.get(path, headers=stack.auth)).json()["deliveries"]
            return len(log) >= 2 and {d["status"] for d in log} == {"delivered"}

        await until(all_delivered)
