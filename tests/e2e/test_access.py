"""Who may do what, across the running services (issue 13): a new key works everywhere at
once and a revoked one stops everywhere within a second, whatever the consumers' lag;
scopes hold on every service; every admin write is in the audit log under the
credential that made it; X-Forwarded-For counts only from trusted proxies; a repeated
Idempotency-Key gets the stored answer."""

from __future__ import annotations

import asyncio
import secrets
import time
from uuid import uuid4

import httpx

from tests.support.credentials import READ, SALES, bearer
from tests.support.stack import Stack


async def _firm_and_key(client: httpx.AsyncClient, stack: Stack) -> tuple[str, str, str]:
    firm = f"acc-{secrets.token_hex(3)}"
    made = await client.post(
        f"{stack.urls['intake']}/v1/firms", json={"firm_id": firm, "name": firm}, headers=stack.auth
    )
    assert made.status_code == 201, made.text
    key = await client.post(f"{stack.urls['intake']}/v1/firms/{firm}/keys", headers=stack.auth)
    assert key.status_code == 201, key.text
    return firm, key.json()["key_id"], key.json()["token"]


async def _status(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> int:
    """The answer's status, without waiting for a body (the event stream never ends)."""
    async with client.stream("GET", url, headers=headers) as answer:
        return answer.status_code


async def test_a_key_works_everywhere_at_once_and_stops_everywhere_within_a_second(
    stack: Stack,
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        firm, key_id, token = await _firm_and_key(client, stack)
        partner = bearer(token)
        reads = {
            "intake": f"{stack.urls['intake']}/v1/partner/leads/{uuid4()}",
            "credit": f"{stack.urls['credit']}/v1/partner/credits/{uuid4()}",
            "ops": f"{stack.urls['ops']}/v1/events/stream",
        }
        for service, url in reads.items():  # known at once: not found, not unauthorized
            status = await _status(client, url, partner)
            assert status in (200, 404), (service, status)
        revoked = await client.delete(
            f"{stack.urls['intake']}/v1/firms/{firm}/keys/{key_id}", headers=stack.auth
        )
        assert revoked.status_code == 204
        started = time.monotonic()
        refused: dict[str, float] = {}
        while len(refused) < len(reads) and time.monotonic() - started < 5:
            for service, url in reads.items():
                if service not in refused and await _status(client, url, partner) == 401:
                    refused[service] = time.monotonic() - started
            await asyncio.sleep(0.05)
        assert set(refused) == set(reads), refused
        assert max(refused.values()) < 1.0, refused


async def test_scopes_hold_on_every_service(stack: Stack) -> None:
    lead = uuid4()
    async with httpx.AsyncClient(timeout=10) as client:
        # read may read, not write
        assert (
            await client.get(f"{stack.urls['credit']}/v1/leads/{lead}/credit", headers=bearer(READ))
        ).status_code == 404
        for url, body in (
            (f"{stack.urls['router']}/v1/owners/x-{lead}", {"name": "X", "role": "AE"}),
            (f"{stack.urls['credit']}/v1/firms/x-{lead.hex[:8]}/contract", {}),
        ):
            denied = await client.put(url, json=body, headers=bearer(READ))
            assert denied.status_code == 403, denied.text
            assert "admin scope" in denied.json()["detail"]
        denied = await client.post(
            f"{stack.urls['router']}/v1/leads/{lead}/stage",
            json={"stage": "accepted"},
            headers=bearer(READ),
        )
        assert denied.status_code == 403
        # sales may move stages (the lead is unknown: 404, not 403), not configure routing
        moved = await client.post(
            f"{stack.urls['router']}/v1/leads/{lead}/stage",
            json={"stage": "accepted"},
            headers=bearer(SALES),
        )
        assert moved.status_code == 404
        denied = await client.put(
            f"{stack.urls['router']}/v1/teams/t-{lead.hex[:8]}",
            json={"name": "T"},
            headers=bearer(SALES),
        )
        assert denied.status_code == 403
        # the ops dashboard's API takes read, not nothing
        assert (await client.get(f"{stack.urls['ops']}/v1/dashboard")).status_code == 401


async def test_every_admin_write_is_in_the_audit_log_under_its_credential(stack: Stack) -> None:
    team = f"t-{secrets.token_hex(3)}"
    async with httpx.AsyncClient(timeout=10) as client:
        for name in ("Team one", "Team two"):
            put = await client.put(
                f"{stack.urls['router']}/v1/teams/{team}", json={"name": name}, headers=stack.auth
            )
            assert put.status_code == 200, put.text
        trail = await client.get(
            f"{stack.urls['ops']}/v1/audit",
            params={"entity_type": "team", "entity_id": team},
            headers=bearer(READ),
        )
        assert trail.status_code == 200, trail.text
        entries = trail.json()["entries"]
        assert [e["action"] for e in entries] == ["team.put", "team.put"]
        newest, oldest = entries
        assert oldest["before"] is None
        assert oldest["after"]["name"] == "Team one"
        assert (newest["before"]["name"], newest["after"]["name"]) == ("Team one", "Team two")
        assert newest["actor_key_id"] == "00000000000000ad"
        assert newest["actor"] == "tests (admin) (00000000000000ad)"
        by_actor = await client.get(
            f"{stack.urls['ops']}/v1/audit",
            params={"actor_key_id": "00000000000000ad", "limit": 500},
            headers=bearer(READ),
        )
        assert {e["id"] for e in entries} <= {e["id"] for e in by_actor.json()["entries"]}


async def test_a_spoofed_forwarded_for_does_not_reset_the_form_limit(stack: Stack) -> None:
    """Without trusted proxies (the default), X-Forwarded-For from loopback used to pick
    a fresh per-address bucket for every post; now the socket's peer is the client."""
    form = f"f-{secrets.token_hex(3)}"
    async with httpx.AsyncClient(timeout=10) as client:
        configured = await client.put(
            f"{stack.urls['intake']}/v1/forms/{form}",
            json={"name": "Spoof test", "allowed_origins": ["https://www.example.com"]},
            headers=stack.auth,
        )
        assert configured.status_code == 200, configured.text
        statuses = []
        for i in range(60):
            answer = await client.post(
                f"{stack.urls['intake']}/v1/forms/{form}/submissions",
                data={"email": f"s{i}-{form}@initech.com"},
                headers={
                    "X-Forwarded-For": f"198.51.100.{i}",
                    "Origin": "https://www.example.com",
                    "Accept": "application/json",
                },
            )
            statuses.append(answer.status_code)
        assert 429 in statuses, statuses


async def test_a_repeat_with_the_same_idempotency_key_gets_the_stored_answer(
    stack: Stack,
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for i in range(30):
            key = {"Idempotency-Key": f"k-{secrets.token_hex(6)}", **stack.auth}
            body = {"email": f"idem{i}-{secrets.token_hex(3)}@initech.com", "source": "api"}
            first = await client.post(f"{stack.urls['intake']}/v1/leads", json=body, headers=key)
            again = await client.post(f"{stack.urls['intake']}/v1/leads", json=body, headers=key)
            assert first.status_code == 202, first.text
            assert again.status_code == 202, again.text  # never 409 "in progress"
            assert again.headers.get("idempotent-replayed") == "true"
            assert again.json() == first.json()
