"""Router end to end, through the running services, the real database and broker:
owners and a team configured over the admin API, accounts loaded by CSV, leads posted
to intake, decisions read back over the API and from ``leads.routed``; a dry run that
stores nothing; a rejection that routes the lead again as revision 2."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest

from shared.events.routing import LeadRouted
from shared.events.status import LeadStatusChanged
from shared.kafka import make_producer
from tests.support.kafka import read_until
from tests.support.stack import Stack


async def poll(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], until: Any = None
) -> Any:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = await client.get(url, headers=headers)
        if answer.status_code == 200 and (until is None or until(answer.json())):
            return answer.json()
        assert answer.status_code in (200, 404), answer.text
        await asyncio.sleep(0.2)
    raise AssertionError(f"{url} never answered as expected")


@pytest.fixture(scope="module")
def tag() -> str:
    return secrets.token_hex(3)


async def _configure(client: httpx.AsyncClient, stack: Stack, tag: str) -> None:
    router, auth = stack.urls["router"], stack.auth
    team = await client.put(f"{router}/v1/teams/t-{tag}", json={"name": f"T {tag}"}, headers=auth)
    assert team.status_code == 200, team.text
    for name in ("amy", "bob"):
        owner = await client.put(
            f"{router}/v1/owners/{name}-{tag}",
            json={"name": f"{name.title()} {tag}", "role": "AE", "team_id": f"t-{tag}"},
            headers=auth,
        )
        assert owner.status_code == 200, owner.text
    csv_text = (
        "id,name,domains,owner_id,firm_id,firm_starts_on,firm_ends_on,firm_notice_ends_on\n"
        f"acc-{tag},Quux {tag} Corp,quux-{tag}.com,amy-{tag},firm-{tag},2026-01-01,2030-12-31,\n"
        f"acc2-{tag},Zorblax {tag},zorblax-{tag}.com,bob-{tag},,,,\n"
        f"bad-{tag},Bad,bad-{tag}.com,ghost-{tag},,,,\n"
        f"bad2-{tag},,,,,,,\n"
    )
    loaded = await client.post(
        f"{router}/v1/accounts/import",
        content=csv_text.encode(),
        headers={**auth, "content-type": "text/csv"},
    )
    assert loaded.status_code == 200, loaded.text
    report = loaded.json()
    assert (report["rows"], report["loaded"], report["failed"]) == (4, 2, 2)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(4, "owner_id"), (5, "name")]


async def _post_lead(client: httpx.AsyncClient, stack: Stack, body: dict[str, str]) -> str:
    accepted = await client.post(f"{stack.urls['intake']}/v1/leads", json=body, headers=stack.auth)
    assert accepted.status_code == 202, accepted.text
    return str(accepted.json()["lead_id"])


async def test_csv_accounts_route_leads_posted_to_intake(stack: Stack, tag: str) -> None:
    router, auth = stack.urls["router"], stack.auth
    async with httpx.AsyncClient(timeout=30) as client:
        await _configure(client, stack, tag)
        by_domain = await _post_lead(
            client, stack, {"email": f"pat@eu.quux-{tag}.com", "source": "website"}
        )
        by_name = await _post_lead(
            client,
            stack,
            {
                "email": f"kim.{tag}@gmail.com",
                "company": f"Zorblax {tag} Inc.",
                "source": "website",
            },
        )
        first = (await poll(client, f"{router}/v1/leads/{by_domain}/routing", auth))["decision"]
        second = (await poll(client, f"{router}/v1/leads/{by_name}/routing", auth))["decision"]

    assert first["owner"]["owner_id"] == f"amy-{tag}"
    assert first["account"]["method"] == "domain"
    assert first["firm_assignment"]["firm_id"] == f"firm-{tag}"
    assert {"do_not_market", "share_with_firm"} <= set(first["flags"])
    assert first["explanation"].startswith(f"Routed to Amy {tag} (AE) because account Quux")
    assert first["ruleset_version"]
    assert second["owner"]["owner_id"] == f"bob-{tag}"
    assert second["account"]["method"] == "name"
    assert second["account"]["score"] >= 0.9
    assert any("free-mail" in step["reason"] for step in second["trace"])

    wanted = {by_domain, by_name}
    seen = await read_until(
        stack.infra.bootstrap_servers,
        "leads.routed",
        lambda found: (
            wanted <= {e.data["lead_id"] for e in found if e.type == LeadRouted.event_type}
        ),
    )
    published = {
        e.data["lead_id"]: e.data
        for e in seen
        if e.type == LeadRouted.event_type and e.data["lead_id"] in wanted
    }
    assert published[by_domain]["owner"]["owner_id"] == f"amy-{tag}"
    assert published[by_name]["account"]["account_id"] == f"acc2-{tag}"


async def test_a_rejected_lead_is_routed_again_as_revision_two(stack: Stack, tag: str) -> None:
    router, auth = stack.urls["router"], stack.auth
    async with httpx.AsyncClient(timeout=30) as client:
        lead_id = await _post_lead(
            client, stack, {"email": f"lou@zorblax-{tag}.com", "source": "website"}
        )
        first = await poll(client, f"{router}/v1/leads/{lead_id}/routing", auth)
        assert first["decision"]["owner"]["owner_id"] == f"bob-{tag}"
        producer = make_producer(stack.infra.settings(), client_id="e2e-sales")
        await producer.start()
        try:
            rejected = LeadStatusChanged(
                lead_id=UUID(lead_id),
                stage="rejected",
                reason_code="wrong_owner",
                actor=f"bob-{tag}",
                occurred_at=datetime.now(UTC),
            )
            envelope = rejected.envelope("/e2e")
            await producer.send_and_wait("leads.status", envelope.to_bytes(), key=lead_id.encode())
        finally:
            await producer.stop()
        again = await poll(
            client,
            f"{router}/v1/leads/{lead_id}/routing",
            auth,
            until=lambda body: body["revisions"] == 2,
        )
    decision = again["decision"]
    assert decision["revision"] == 2
    assert decision["reason"] == "owner_rejected"
    assert decision["owner"]["owner_id"] == f"amy-{tag}"  # bob's team mate
    assert decision["previous_owner_id"] == f"bob-{tag}"


async def test_simulate_is_a_dry_run_and_bad_rule_sets_are_refused(stack: Stack, tag: str) -> None:
    router, auth = stack.urls["router"], stack.auth
    async with httpx.AsyncClient(timeout=30) as client:
        simulated = await client.post(
            f"{router}/v1/routing/simulate",
            json={"lead": {"email_domain": f"www.quux-{tag}.com"}},
            headers=auth,
        )
        assert simulated.status_code == 200, simulated.text
        decision = simulated.json()["decision"]
        assert decision["owner"]["owner_id"] == f"amy-{tag}"
        stored = await client.get(f"{router}/v1/leads/{decision['lead_id']}/routing", headers=auth)
        assert stored.status_code == 404

        bad = await client.post(
            f"{router}/v1/rulesets",
            content=b"version: x\nrules: [{kind: customer}]",
            headers={**auth, "content-type": "application/yaml"},
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["errors"][0]["field"] == "rules"

        unknown = await client.post(
            f"{router}/v1/routing/simulate",
            json={"lead": {"email_domain": "x.com"}, "ruleset_version": "nope"},
            headers=auth,
        )
        assert unknown.status_code == 404
        missing = await client.put(
            f"{router}/v1/accounts/a-{tag}",
            json={"name": "A", "owner_id": f"ghost-{tag}"},
            headers=auth,
        )
        assert missing.status_code == 422
        assert missing.json()["errors"] == [
            {"field": "owner_id", "reason": f"no owner ghost-{tag}"}
        ]
        anonymous = await client.get(f"{router}/v1/owners")
        assert anonymous.status_code == 401
