"""A lead's timeline and the funnel report from the ops service, end to end: a firm's
lead goes through intake, router and credit (a meeting booked and held, sales accepts),
and ops tells each step with its routing trace and credit reasons; the funnel counts it,
as JSON and as CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from services.stack import load_demo
from tests.support.stack import Stack


@pytest.fixture(scope="module")
def demo(stack: Stack) -> Stack:
    asyncio.run(load_demo(stack.infra.database_url))
    return stack


async def firm_with_account(client: httpx.AsyncClient, stack: Stack) -> tuple[str, str, str]:
    """A firm with a key, the default contract, and an account assigned to it:
    (firm id, partner token, the account's domain)."""
    firm = f"firm-{secrets.token_hex(3)}"
    domain = f"{firm}-prospect.com"
    urls, auth = stack.urls, stack.auth
    made = await client.post(
        f"{urls['intake']}/v1/firms", json={"firm_id": firm, "name": firm}, headers=auth
    )
    made.raise_for_status()
    key = await client.post(f"{urls['intake']}/v1/firms/{firm}/keys", headers=auth)
    key.raise_for_status()
    contract = await client.put(f"{urls['credit']}/v1/firms/{firm}/contract", json={}, headers=auth)
    contract.raise_for_status()
    account = {
        "name": f"Prospect of {firm}",
        "domains": [domain],
        "owner_id": "own-lee",
        "firm": {"firm_id": firm, "starts_on": "2026-01-01"},
    }
    placed = await client.put(
        f"{urls['router']}/v1/accounts/acc-{firm}", json=account, headers=auth
    )
    placed.raise_for_status()
    return firm, key.json()["token"], domain


async def timeline_until(
    client: httpx.AsyncClient,
    stack: Stack,
    lead_id: str,
    done: Callable[[dict[str, Any]], bool],
    timeout_s: float = 60,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        got = await client.get(f"{stack.urls['ops']}/v1/leads/{lead_id}", headers=stack.auth)
        if got.status_code == 200:
            last = got.json()
            if done(last):
                return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"the timeline never settled; last: {last}")


async def move(
    client: httpx.AsyncClient, stack: Stack, lead_id: str, stage: str, **extra: str
) -> None:
    """Sales moves the lead (router's stage API), once the router has routed it."""
    deadline = time.monotonic() + 60
    while True:
        moved = await client.post(
            f"{stack.urls['router']}/v1/leads/{lead_id}/stage",
            json={"stage": stage, **extra},
            headers=stack.auth,
        )
        if moved.status_code == 200 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)  # 404/409 until the router has the lead routed
    assert moved.status_code == 200, moved.text


async def test_the_timeline_tells_each_step_across_services(demo: Stack) -> None:
    urls, auth = demo.urls, demo.auth
    async with httpx.AsyncClient(timeout=15) as client:
        firm, token, domain = await firm_with_account(client, demo)
        partner = {"Authorization": f"Bearer {token}"}
        lead = await client.post(
            f"{urls['intake']}/v1/partner/leads",
            json={"email": f"cio@{domain}", "name": "Casey Ops", "company": "Prospect Inc"},
            headers=partner,
        )
        assert lead.status_code in (201, 202), lead.text
        lead_id = lead.json()["results"][0]["id"]
        await move(client, demo, lead_id, "accepted")
        meeting = await client.post(
            f"{urls['intake']}/v1/partner/meetings",
            json={
                "contact_email": f"cio@{domain}",
                "lead_id": lead_id,
                "scheduled_for": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
            },
            headers=partner,
        )
        assert meeting.status_code == 201, meeting.text
        held = await client.post(
            f"{urls['intake']}/v1/meetings/{meeting.json()['meeting_id']}/outcome",
            json={"status": "held"},
            headers=auth,
        )
        assert held.status_code in (200, 202), held.text

        told = await timeline_until(
            client,
            demo,
            lead_id,
            lambda t: (
                (t["lead"]["credit"] or {}).get("state") == "credited"
                and any(e["type"] == "leadflow.lead.status_changed.v1" for e in t["events"])
                and any("Meeting held" in e["summary"] for e in t["events"])
            ),
        )
        # Credit re-decides on each fact: let the last revision arrive.
        while True:
            await asyncio.sleep(1.5)
            again = await timeline_until(client, demo, lead_id, lambda t: True)
            if len(again["events"]) == len(told["events"]):
                break
            told = again
        found = await client.get(f"{urls['ops']}/v1/leads", params={"q": domain}, headers=auth)
        by_id = await client.get(f"{urls['ops']}/v1/leads", params={"q": lead_id[:8]}, headers=auth)

    events = told["events"]
    types = [e["type"].split(".")[-2] for e in events]
    types_of = [e["type"] for e in events]
    for step in ("received", "routed", "updated", "status_changed", "decided"):
        assert step in types, types
    # The pipeline's order: event time, but each credit revision after the routing
    # revision it followed (credit dates a decision as of the lead's facts).
    others = [e["time"] for e in events if e["type"] != "leadflow.credit.decided.v1"]
    assert others == sorted(others)
    first = {t: next(i for i, e in enumerate(events) if e["type"] == t) for t in set(types_of)}
    assert first["leadflow.lead.routed.v1"] < first["leadflow.credit.decided.v1"]
    by_type = {e["type"]: e for e in events}
    received = by_type["leadflow.lead.received.v1"]
    assert received["service"] == "intake"
    assert received["summary"].startswith(f"Received Casey Ops <cio@{domain}> at Prospect Inc")
    routed = by_type["leadflow.lead.routed.v1"]
    assert routed["service"] == "router"
    assert "rule firm_assignment" in routed["summary"]
    assert any(line.startswith("✓ firm_assignment") for line in routed["details"])
    credited = [e for e in events if e["type"] == "leadflow.credit.decided.v1"][-1]
    head = told["lead"]
    assert credited["summary"] == (
        f"Credit revision {head['credit']['revision']}: credited, "
        f"{head['credit']['amount']} USD for {firm}."
    )
    assert credited["details"]  # the reasons, in sentences
    assert by_type["leadflow.lead.status_changed.v1"]["summary"] == (
        "Accepted by tests (admin) (00000000000000ad)."  # the credential that moved it
    )
    assert any("Meeting held" in e["summary"] for e in events)
    assert (head["owner_id"], head["account_id"], head["firm_id"]) == (
        "own-lee",
        f"acc-{firm}",
        firm,
    )
    assert head["credit"]["state"] == "credited"
    assert float(head["credit"]["amount"]) > 0
    assert head["stage"] == "meeting_held"
    assert [h["lead_id"] for h in found.json()["leads"]] == [lead_id]
    assert lead_id in [h["lead_id"] for h in by_id.json()["leads"]]


async def test_unknown_lead_bad_search_and_no_token(demo: Stack) -> None:
    ops = demo.urls["ops"]
    async with httpx.AsyncClient(timeout=10) as client:
        missing = await client.get(f"{ops}/v1/leads/{uuid4()}", headers=demo.auth)
        malformed = await client.get(f"{ops}/v1/leads/not-a-uuid", headers=demo.auth)
        short = await client.get(f"{ops}/v1/leads", params={"q": "x"}, headers=demo.auth)
        anonymous = await client.get(f"{ops}/v1/leads/{uuid4()}")
        dashboard = await client.get(f"{ops}/v1/dashboard")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert malformed.status_code == 422
    assert short.status_code == 422
    assert short.json()["errors"][0]["field"] == "q"
    assert anonymous.status_code == 401
    assert dashboard.status_code == 401


async def test_funnel_report_as_json_and_csv(demo: Stack) -> None:
    urls, auth = demo.urls, demo.auth
    campaign = f"funnel-{secrets.token_hex(3)}"
    async with httpx.AsyncClient(timeout=15) as client:
        leads = []
        for person in ("ana", "ben", "cy"):
            answer = await client.post(
                f"{urls['intake']}/v1/leads",
                json={
                    "email": f"{person}.{campaign}@initech.com",
                    "campaign": campaign,
                    "source": "website",
                },
                headers=auth,
            )
            answer.raise_for_status()
            leads.append(answer.json()["lead_id"])
        await move(client, demo, leads[0], "accepted")
        await move(client, demo, leads[1], "rejected", reason_code="not_icp")
        for lead_id in leads[:2]:
            await timeline_until(
                client,
                demo,
                lead_id,
                lambda t: any(e["type"].endswith("status_changed.v1") for e in t["events"]),
            )

        today = datetime.now(UTC).date()
        window = {"from": today.isoformat(), "to": (today + timedelta(days=1)).isoformat()}
        as_json = await client.get(f"{urls['ops']}/v1/reports/funnel", params=window, headers=auth)
        as_csv = await client.get(
            f"{urls['ops']}/v1/reports/funnel", params={**window, "format": "csv"}, headers=auth
        )
        before = await client.get(
            f"{urls['ops']}/v1/reports/funnel",
            params={"to": today.isoformat(), "from": "2020-01-01"},
            headers=auth,
        )
        backwards = await client.get(
            f"{urls['ops']}/v1/reports/funnel",
            params={"from": window["to"], "to": window["from"]},
            headers=auth,
        )
        nonsense = await client.get(
            f"{urls['ops']}/v1/reports/funnel", params={"from": "yesterday"}, headers=auth
        )
        no_offset = await client.get(
            f"{urls['ops']}/v1/reports/funnel", params={"from": "2026-01-01T10:00"}, headers=auth
        )
        wrong_format = await client.get(
            f"{urls['ops']}/v1/reports/funnel", params={"format": "xml"}, headers=auth
        )

    assert as_json.status_code == 200, as_json.text
    (row,) = [r for r in as_json.json()["rows"] if r["campaign"] == campaign]
    assert (row["channel"], row["received"], row["accepted"], row["credited"]) == ("api", 3, 1, 0)
    assert as_json.json()["total"]["received"] >= 3
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(as_csv.text)))
    (line,) = [r for r in lines if r["campaign"] == campaign]
    assert (line["received"], line["accepted"], line["accepted_rate"]) == ("3", "1", "0.3333")
    assert lines[-1]["channel"] == "all"
    assert campaign not in before.text
    for refused in (backwards, nonsense, no_offset, wrong_format):
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
