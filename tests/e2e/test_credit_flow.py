"""Credit end to end, through the running services: a firm submits a lead and books a
meeting through intake, sales marks it held, and the firm sees ``credited`` with the
amount and the reasons, and the month's statement lists it; a no-show never held ends
``void``; another firm cannot see it; a dispute is settled by ops."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.stack import load_demo
from tests.support.stack import Stack


@pytest.fixture(scope="module")
def demo(stack: Stack) -> Stack:
    asyncio.run(load_demo(stack.infra.database_url))
    return stack


async def new_firm(client: httpx.AsyncClient, stack: Stack, **terms: Any) -> tuple[str, str, str]:
    """A firm with a key, a contract, and an account assigned to it. Returns
    (firm id, partner token, the account's domain)."""
    firm = f"firm-{secrets.token_hex(3)}"
    domain = f"{firm}-prospect.com"
    urls, auth = stack.urls, stack.auth
    (
        await client.post(
            f"{urls['intake']}/v1/firms", json={"firm_id": firm, "name": firm}, headers=auth
        )
    ).raise_for_status()
    key = await client.post(f"{urls['intake']}/v1/firms/{firm}/keys", headers=auth)
    key.raise_for_status()
    (
        await client.put(f"{urls['credit']}/v1/firms/{firm}/contract", json=terms, headers=auth)
    ).raise_for_status()
    account = {
        "name": f"Prospect of {firm}",
        "domains": [domain],
        "owner_id": "own-lee",
        "firm": {"firm_id": firm, "starts_on": "2026-01-01"},
    }
    (
        await client.put(f"{urls['router']}/v1/accounts/acc-{firm}", json=account, headers=auth)
    ).raise_for_status()
    return firm, key.json()["token"], domain


async def credit_until(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    done: Callable[[dict[str, Any]], bool],
    timeout_s: float = 60,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        got = await client.get(url, headers=headers)
        if got.status_code == 200:
            last = dict(got.json()["decision"])
            if done(last):
                return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"never settled; last: {last}")


async def test_a_held_meeting_is_credited_and_on_the_statement(demo: Stack) -> None:
    urls, auth = demo.urls, demo.auth
    async with httpx.AsyncClient(timeout=15) as client:
        firm, token, domain = await new_firm(client, demo)
        partner = {"Authorization": f"Bearer {token}"}
        lead = await client.post(
            f"{urls['intake']}/v1/partner/leads",
            json={
                "email": f"cio@{domain}",
                "name": "Casey",
                "company": "Prospect Inc",
                "title": "CIO",
            },
            headers=partner,
        )
        assert lead.status_code in (201, 202), lead.text
        lead_id = lead.json()["results"][0]["id"]
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
        meeting_id = meeting.json()["meeting_id"]
        held = await client.post(
            f"{urls['intake']}/v1/meetings/{meeting_id}/outcome",
            json={"status": "held"},
            headers=auth,
        )
        assert held.status_code in (200, 202), held.text

        # The firm reads its own credit through credit's partner API (keys replicated).
        decision = await credit_until(
            client,
            f"{urls['credit']}/v1/partner/credits/{lead_id}",
            partner,
            lambda d: d["state"] == "credited" and d["amount"] == "500.00",
        )
        rules = [r["rule"] for r in decision["reasons"]]
        assert "lead.credited" in rules
        assert "meeting.held" in rules

        period = datetime.now(UTC).strftime("%Y-%m")
        statement = (
            await client.get(f"{urls['credit']}/v1/partner/statements/{period}", headers=partner)
        ).json()
        assert statement["total"] == "500.00"
        assert {line["lead_id"] for line in statement["lines"]} == {lead_id}
        as_csv = await client.get(
            f"{urls['credit']}/v1/firms/{firm}/statements/{period}",
            params={"format": "csv"},
            headers=auth,
        )
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert lead_id in as_csv.text
        assert "TOTAL" in as_csv.text

        # SP9: the firm's daily referral report and weekly summary, its own leads only.
        today = datetime.now(UTC).date().isoformat()
        daily = (
            await client.get(f"{urls['credit']}/v1/partner/reports/daily/{today}", headers=partner)
        ).json()
        assert [r["lead_id"] for r in daily["referrals"]] == [lead_id]
        assert daily["referrals"][0]["state"] == "credited"
        assert (daily["leads_sent"], daily["credited"], daily["amount"]) == (1, 1, "500.00")
        assert (daily["meetings_booked"], daily["meetings_held"]) == (1, 1)
        weekly = await client.get(
            f"{urls['credit']}/v1/firms/{firm}/reports/weekly/{today}", headers=auth
        )
        assert weekly.json()["amount"] == "500.00"
        bad_day = await client.get(
            f"{urls['credit']}/v1/partner/reports/daily/yesterday", headers=partner
        )
        assert bad_day.status_code == 422
        assert bad_day.json()["errors"][0]["field"] == "day"

        other, other_token, _ = await new_firm(client, demo)
        assert other != firm
        stranger = {"Authorization": f"Bearer {other_token}"}
        hidden = await client.get(
            f"{urls['credit']}/v1/partner/credits/{lead_id}", headers=stranger
        )
        for _ in range(100):  # until credit has the new key from firms.keys
            if hidden.status_code != 401:
                break
            await asyncio.sleep(0.2)
            hidden = await client.get(
                f"{urls['credit']}/v1/partner/credits/{lead_id}", headers=stranger
            )
        assert hidden.status_code == 404  # not yours looks like not found
        theirs = (
            await client.get(
                f"{urls['credit']}/v1/partner/reports/weekly/{today}", headers=stranger
            )
        ).json()
        assert theirs["referrals"] == []
        assert theirs["amount"] == "0.00"


async def test_a_no_show_never_held_ends_void_and_a_dispute_goes_to_ops(demo: Stack) -> None:
    urls, auth = demo.urls, demo.auth
    async with httpx.AsyncClient(timeout=15) as client:
        # meetings only, and no reschedule window: a no-show is final at once
        _firm, token, domain = await new_firm(
            client, demo, pays_for="meeting", reschedule_window_days=0
        )
        partner = {"Authorization": f"Bearer {token}"}
        lead = await client.post(
            f"{urls['intake']}/v1/partner/leads",
            json={"email": f"vp@{domain}", "company": "Prospect Inc"},
            headers=partner,
        )
        lead_id = lead.json()["results"][0]["id"]
        meeting = await client.post(
            f"{urls['intake']}/v1/partner/meetings",
            json={"contact_email": f"vp@{domain}", "lead_id": lead_id},
            headers=partner,
        )
        meeting_id = meeting.json()["meeting_id"]
        await client.post(
            f"{urls['intake']}/v1/partner/meetings/{meeting_id}/updates",
            json={"status": "no_show"},
            headers=partner,
        )
        url = f"{urls['credit']}/v1/leads/{lead_id}/credit"
        void = await credit_until(client, url, auth, lambda d: d["state"] == "void")
        assert "meeting.not_held_in_window" in [r["rule"] for r in void["reasons"]]

        disputed = await client.post(
            f"{urls['credit']}/v1/partner/credits/{lead_id}/disputes",
            json={"comment": "The prospect did join, late."},
            headers=partner,
        )
        assert disputed.status_code == 202
        assert disputed.json()["decision"]["state"] == "disputed"
        settled = await client.post(
            f"{urls['credit']}/v1/leads/{lead_id}/credit/resolution",
            json={"verdict": "overturned", "comment": "Call log shows it."},
            headers=auth,
        )
        assert settled.status_code == 200
        assert settled.json()["decision"]["state"] == "credited"
        history = (await client.get(f"{url}/history", headers=auth)).json()["revisions"]
        assert [r["state"] for r in history][-3:] == ["void", "disputed", "credited"]
