"""Notifications through the running services: an owner's channels put on the router's
owner record reach ops through ``owners.updated``; a lead posted to intake on the owner's
account is routed, and the owner's notification arrives at a real SMTP server with the
routing sentence; the owner's manager hears of nothing but breaches."""

from __future__ import annotations

import secrets

import httpx

from tests.support.notifications import carried
from tests.support.stack import Stack
from tests.support.webhooks import until

ALWAYS = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "opens": "00:00:00",
          "closes": "23:59:59"}  # fmt: skip


async def test_an_owner_put_on_the_router_is_emailed_their_new_lead(stack: Stack) -> None:
    tag = secrets.token_hex(4)
    router, auth = stack.urls["router"], stack.auth
    owner, manager, domain = f"rita-{tag}", f"max-{tag}", f"rita-{tag}.example.com"
    async with httpx.AsyncClient(timeout=10) as client:
        for owner_id, body in (
            (manager, {"name": "Max Boss", "role": "manager"}),
            (owner, {"name": "Rita Moreno", "role": "AE", "manager_id": manager}),
        ):
            put = await client.put(
                f"{router}/v1/owners/{owner_id}",
                json={
                    **body,
                    "business_hours": ALWAYS,
                    "notify": {"email": f"{owner_id}@example.com"},
                },
                headers=auth,
            )
            assert put.status_code == 200, put.text
            assert put.json()["notify"] == {
                "email": f"{owner_id}@example.com",
                "slack_webhook_url": None,
            }
        bad = await client.put(
            f"{router}/v1/owners/{owner}",
            json={"name": "Rita", "role": "AE", "notify": {"email": "not an address"}},
            headers=auth,
        )
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "notify.email"
        account = await client.put(
            f"{router}/v1/accounts/acc-{tag}",
            json={"name": f"Rita Co {tag}", "domains": [domain], "owner_id": owner},
            headers=auth,
        )
        assert account.status_code == 200, account.text
        posted = await client.post(
            f"{stack.urls['intake']}/v1/leads",
            json={"email": f"pat@{domain}", "name": "Pat Kim", "source": "website"},
            headers=auth,
        )
        assert posted.status_code == 202, posted.text
        lead_id = posted.json()["lead_id"]

    def mine() -> list[str]:
        return [
            str(m["Subject"])
            for m, _ in stack.inbox.messages
            if m["To"] in (f"{owner}@example.com", f"{manager}@example.com")
        ]

    await until(lambda: bool(mine()), timeout_s=60)
    (subject,) = mine()
    assert subject.startswith("New lead: Pat Kim")
    mail = next(m for m, _ in stack.inbox.messages if m["To"] == f"{owner}@example.com")
    assert "Routed to Rita Moreno" in mail.get_content()
    assert f"/#/leads/{lead_id}" in mail.get_content()
    assert len(carried(mail)) == 1
