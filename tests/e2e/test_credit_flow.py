"""Credit end to end, through the running services: a firm submits a lead and books a
meeting through intake, sales accepts the lead (router's stage API) and marks the meeting
held, and the firm sees ``credited`` with the amount and the reasons, and the month's
statement lists it; a rejected lead comes back to the firm in its reports with the
reason code; a no-show never held ends ``void``; another firm cannot see it; a dispute
is settled by ops; a meeting nobody reports on counts as held once the reporting window
passes, by the service's own review sweep."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.ops.domain.timeline import AUDITED
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


async def submit(
    client: httpx.AsyncClient, stack: Stack, partner: dict[str, str], **lead: Any
) -> str:
    got = await client.post(f"{stack.urls['intake']}/v1/partner/leads", json=lead, headers=partner)
    assert got.status_code in (201, 202), got.text
    return str(got.json()["results"][0]["id"])


async def move_stage(
    client: httpx.AsyncClient, stack: Stack, lead_id: str, stage: str, reason: str | None = None
) -> None:
    """Sales answers through the router (404, then 409, until the router has it routed)."""
    body = {"stage": stage}
    if reason:
        body["reason_code"] = reason
    for _ in range(150):
        got = await client.post(
            f"{stack.urls['router']}/v1/leads/{lead_id}/stage", json=body, headers=stack.auth
        )
        if got.status_code not in (404, 409):
            break
        await asyncio.sleep(0.2)
    assert got.status_code == 200, got.text


async def audit_lines(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], timeout_s: float = 30
) -> list[str]:
    """The audit lines of a lead's ops timeline, once ops has recorded the lead (its
    consumer may still be behind the credit service's answer)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = await client.get(url, headers=headers)
        if got.status_code == 200:
            said = [e["summary"] for e in got.json()["events"] if e["type"] == AUDITED]
            if said or time.monotonic() > deadline:
                return said
        assert time.monotonic() < deadline, f"ops never showed the lead: {got.status_code}"
        await asyncio.sleep(0.3)


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
        lead_id = await submit(
            client, demo, partner, email=f"cio@{domain}", name="Casey", company="Prospect Inc"
        )
        returned = await submit(
            client, demo, partner, email=f"gone@{domain}", name="Gone", company="Prospect Inc"
        )
        await move_stage(client, demo, lead_id, "accepted")
        await move_stage(client, demo, returned, "rejected", "contact_left_company")
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
        assert {"acceptance.accepted", "lead.credited", "meeting.held"} <= set(rules)
        assert "payment.holding" in rules  # payable after the 30-day holding period
        rejected = await credit_until(
            client,
            f"{urls['credit']}/v1/partner/credits/{returned}",
            partner,
            lambda d: d["state"] == "void",
        )
        assert "acceptance.rejected" in [r["rule"] for r in rejected["reasons"]]

        period = datetime.now(UTC).strftime("%Y-%m")
        statement = (
            await client.get(f"{urls['credit']}/v1/partner/statements/{period}", headers=partner)
        ).json()
        assert statement["total"] == "500.00"
        assert {line["lead_id"] for line in statement["lines"]} == {lead_id}  # not the void one
        as_csv = await client.get(
            f"{urls['credit']}/v1/firms/{firm}/statements/{period}",
            params={"format": "csv"},
            headers=auth,
        )
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert lead_id in as_csv.text
        assert "TOTAL" in as_csv.text

        # SP9: the firm's daily referral report and weekly summary, its own leads only,
        # with the rejection's reason code coming back to it (issue 6)
        today = datetime.now(UTC).date().isoformat()
        daily = (
            await client.get(f"{urls['credit']}/v1/partner/reports/daily/{today}", headers=partner)
        ).json()
        states = {r["lead_id"]: (r["state"], r["rejection_reason"]) for r in daily["referrals"]}
        assert states == {lead_id: ("credited", None), returned: ("void", "contact_left_company")}
        assert (daily["leads_sent"], daily["credited"], daily["amount"]) == (2, 1, "500.00")
        assert (daily["accepted"], daily["rejected"]) == (1, 1)
        assert daily["rejected_reasons"] == {"contact_left_company": 1}
        assert daily["rejection_feedback"] == [
            {
                "reason_code": "contact_left_company",
                "count": 1,
                "meaning": "The contact no longer works there.",
            }
        ]
        assert (daily["meetings_booked"], daily["meetings_held"]) == (1, 1)
        weekly = await client.get(
            f"{urls['credit']}/v1/firms/{firm}/reports/weekly/{today}", headers=auth
        )
        assert weekly.json()["amount"] == "500.00"
        for report_url, headers in (
            (f"{urls['credit']}/v1/partner/reports/daily/{today}", partner),
            (f"{urls['credit']}/v1/firms/{firm}/reports/weekly/{today}", auth),
        ):
            report_csv = await client.get(report_url, params={"format": "csv"}, headers=headers)
            assert report_csv.headers["content-type"].startswith("text/csv")
            assert "rejected:contact_left_company,1" in report_csv.text
            assert lead_id in report_csv.text
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
        # A new key works on every service at once; another firm's lead is not found.
        assert hidden.status_code == 404
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
        # The settlement is an admin write: in the audit log, and on the lead's timeline.
        said = await audit_lines(client, f"{urls['ops']}/v1/leads/{lead_id}", auth)
        assert said == [
            "tests (admin) (00000000000000ad) overturned the disputed credit decision: "
            "Call log shows it."
        ]


async def test_a_meeting_nobody_reports_on_counts_as_held_when_the_window_passes(
    demo: Stack,
) -> None:
    """No new fact arrives: the credit service's review sweep (every 30 s) sees the
    reporting window pass and re-decides the lead as of that moment."""
    urls, auth = demo.urls, demo.auth
    async with httpx.AsyncClient(timeout=15) as client:
        _firm, token, domain = await new_firm(
            client, demo, pays_for="meeting", no_show_report_hours=0
        )
        partner = {"Authorization": f"Bearer {token}"}
        lead_id = await submit(client, demo, partner, email=f"cto@{domain}", company="P Inc")
        starts = datetime.now(UTC) + timedelta(seconds=3)
        booked = await client.post(
            f"{urls['intake']}/v1/partner/meetings",
            json={
                "contact_email": f"cto@{domain}",
                "lead_id": lead_id,
                "scheduled_for": starts.isoformat(),
            },
            headers=partner,
        )
        assert booked.status_code == 201, booked.text
        url = f"{urls['credit']}/v1/leads/{lead_id}/credit"
        waiting = await credit_until(
            client, url, auth, lambda d: "meeting.scheduled" in str(d["reasons"])
        )
        assert waiting["state"] == "pending"
        held = await credit_until(
            client, url, auth, lambda d: d["state"] == "credited", timeout_s=75
        )
        assert "meeting.unreported_counts_as_held" in [r["rule"] for r in held["reasons"]]
        assert held["amount"] == "350.00"
