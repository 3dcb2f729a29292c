"""Sales and ops facts against real PostgreSQL and the broker: a meeting flagged bad by
sales. (Acceptance and rejection moved to the router: tests/integration/router.)"""

from __future__ import annotations

import secrets

from tests.integration.intake.conftest import Intake
from tests.support.kafka import read_until


async def test_acceptance_is_no_longer_taken_by_intake(intake: Intake) -> None:
    made = await intake.client.post(
        "/v1/leads", json={"email": f"acc-{secrets.token_hex(4)}@initech.com"}, headers=intake.ops
    )
    gone = await intake.client.post(
        f"/v1/leads/{made.json()['lead_id']}/acceptance",
        json={"decision": "accepted", "actor": "ae-1"},
        headers=intake.ops,
    )
    assert gone.status_code in (404, 405)  # the router's POST /v1/leads/{id}/stage took it


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
    assert as_partner.status_code == 403  # a valid key without the sales scope
