"""Sales and ops facts against real PostgreSQL and the broker: acceptance and rejection
with a reason code, a meeting flagged bad by sales."""

from __future__ import annotations

import secrets

from shared.events.status import LeadStatusChanged
from tests.integration.intake.conftest import Intake
from tests.support.kafka import read_until


async def test_sales_rejects_a_lead_with_a_reason_code(intake: Intake) -> None:
    made = await intake.client.post(
        "/v1/leads", json={"email": f"rej-{secrets.token_hex(4)}@initech.com"}, headers=intake.ops
    )
    lead_id = made.json()["lead_id"]
    url = f"/v1/leads/{lead_id}/acceptance"
    no_reason = await intake.client.post(
        url, json={"decision": "rejected", "actor": "ae-1"}, headers=intake.ops
    )
    assert no_reason.status_code == 422
    rejected = await intake.client.post(
        url,
        json={"decision": "rejected", "reason_code": "contact_left_company", "actor": "ae-1"},
        headers=intake.ops,
    )
    assert rejected.status_code == 202, rejected.text
    unknown = await intake.client.post(
        f"/v1/leads/{'0' * 32}/acceptance",
        json={"decision": "accepted", "actor": "ae-1"},
        headers=intake.ops,
    )
    assert unknown.status_code == 404
    seen = await read_until(
        intake.bootstrap, "leads.status", lambda s: any(e.data["lead_id"] == lead_id for e in s)
    )
    events = [
        LeadStatusChanged.model_validate(e.data) for e in seen if e.data["lead_id"] == lead_id
    ]
    assert [(e.stage, e.reason_code, e.actor) for e in events] == [
        ("rejected", "contact_left_company", "ae-1")
    ]


async def test_sales_flags_a_meeting_as_bad(intake: Intake) -> None:
    _, key = await intake.firm_with_key()
    booked = await intake.client.post(
        "/v1/partner/meetings",
        json={"contact_email": f"mtg-{secrets.token_hex(4)}@initech.com"},
        headers=key,
    )
    meeting_id = booked.json()["meeting_id"]
    flagged = await intake.client.post(
        f"/v1/meetings/{meeting_id}/outcome",
        json={"bad_meeting": True, "comment": "not a decision maker"},
        headers=intake.ops,
    )
    assert flagged.status_code == 200, flagged.text
    assert flagged.json()["status"] == "flagged_bad"
    assert flagged.json()["history"][-1]["by"] == "sales"
    seen = await read_until(
        intake.bootstrap,
        "meetings.updated",
        lambda s: any(
            e.data["meeting_id"] == meeting_id and e.data["reported_by"] == "sales" for e in s
        ),
    )
    event = next(
        e for e in seen if e.data["meeting_id"] == meeting_id and e.data["reported_by"] == "sales"
    )
    assert event.data["status"] == "flagged_bad"
    as_partner = await intake.client.post(
        f"/v1/meetings/{meeting_id}/outcome", json={"bad_meeting": True}, headers=key
    )
    assert as_partner.status_code == 401
