"""Signed webhooks against real PostgreSQL and the broker: accepted, tampered and expired
ones refused, a replay answered without a second event, both rotation secrets valid,
and the generic mapping for leads, MQLs and firm activities."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import httpx

from services.intake.domain.signatures import sign
from shared.events.leads import LeadReceived
from shared.events.status import LeadStatusChanged
from tests.integration.intake.conftest import WEBHOOK_SECRETS, Intake
from tests.support.kafka import read_until

MAPPING = {
    "event_type_path": "type",
    "events": {
        "webinar.registered": {
            "kind": "lead",
            "engagement": "webinar_registration",
            "fields": {
                "email": "contact.email",
                "name": "contact.name",
                "company": "contact.company",
                "campaign": "webinar.slug",
            },
        },
        "contact.mql": {"kind": "mql", "engagement": "mql", "fields": {"email": "contact.email"}},
        "email.clicked": {
            "kind": "activity",
            "engagement": "email_click",
            "fields": {"email": "contact.email", "firm_id": "firm", "occurred_at": "at"},
            "static": {"activity_kind": "email"},
        },
    },
}


def signed(
    payload: Any, *, secret: str = WEBHOOK_SECRETS["mautic"], age_s: int = 0, tamper: bool = False
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    webhook_id = f"msg_{secrets.token_hex(8)}"
    timestamp = int(time.time()) - age_s
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
        "content-type": "application/json",
    }
    return (body + b" " if tamper else body), headers


async def configured(intake: Intake) -> None:
    answer = await intake.client.put("/v1/webhook-sources/mautic", json=MAPPING, headers=intake.ops)
    assert answer.status_code == 200, answer.text


async def post(intake: Intake, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await intake.client.post("/v1/webhooks/mautic", content=body, headers=headers)


def registration(address: str) -> dict[str, Any]:
    return {
        "type": "webinar.registered",
        "contact": {"email": address, "name": "Pat Doe", "company": "Initech"},
        "webinar": {"slug": "ai-in-sales"},
    }


async def test_a_signed_webhook_is_accepted_and_a_replay_is_not_applied_twice(
    intake: Intake,
) -> None:
    await configured(intake)
    address = f"wh-{secrets.token_hex(4)}@initech.com"
    body, headers = signed(registration(address))
    first = await post(intake, body, headers)
    assert first.status_code == 200, first.text
    assert first.json()["outcome"] == "lead_received"
    assert first.json()["engagement"] == "webinar_registration"
    lead_id = first.json()["id"]
    replay = await post(intake, body, headers)
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert replay.headers["webhook-replayed"] == "true"

    seen = await read_until(
        intake.bootstrap,
        "leads.received",
        lambda s: any(e.data.get("lead_id") == lead_id for e in s),
    )
    about = [e for e in seen if e.data.get("lead_id") == lead_id]
    assert [e.type for e in about] == [LeadReceived.event_type]  # no second event, no dup
    assert about[0].data["campaign"] == "ai-in-sales"
    assert about[0].data["channel"] == "webhook"


async def test_tampered_expired_and_unsigned_webhooks_are_refused(intake: Intake) -> None:
    await configured(intake)
    address = f"bad-{secrets.token_hex(4)}@initech.com"
    tampered = await post(intake, *signed(registration(address), tamper=True))
    expired = await post(intake, *signed(registration(address), age_s=301))
    wrong = await post(intake, *signed(registration(address), secret="whsec_" + "d3Jvbmc="))
    body, headers = signed(registration(address))
    unsigned = await post(intake, body, {"content-type": "application/json"})
    for answer in (tampered, expired, wrong, unsigned):
        assert answer.status_code == 401, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["errors"][0]["field"] == "webhook-signature"
    assert "tolerance" in expired.json()["detail"]
    unknown = await intake.client.post("/v1/webhooks/nobody", content=body, headers=headers)
    assert unknown.status_code == 404


async def test_the_old_secret_stays_valid_while_rotating(intake: Intake) -> None:
    await configured(intake)
    address = f"rot-{secrets.token_hex(4)}@initech.com"
    answer = await post(
        intake, *signed(registration(address), secret=WEBHOOK_SECRETS["mautic_old"])
    )
    assert answer.status_code == 200, answer.text


async def test_an_mql_update_publishes_a_status_change_of_the_lead(intake: Intake) -> None:
    await configured(intake)
    address = f"mql-{secrets.token_hex(4)}@initech.com"
    first = await post(intake, *signed(registration(address)))
    lead_id = first.json()["id"]
    mql = await post(
        intake, *signed({"type": "contact.mql", "contact": {"email": address.upper()}})
    )
    assert mql.json() == {"outcome": "mql", "id": lead_id}
    seen = await read_until(
        intake.bootstrap, "leads.status", lambda s: any(e.data["lead_id"] == lead_id for e in s)
    )
    event = next(e for e in seen if e.data["lead_id"] == lead_id)
    assert event.type == LeadStatusChanged.event_type
    assert event.data["stage"] == "qualified"


async def test_an_email_click_for_a_firm_is_an_activity_and_bad_payloads_get_422(
    intake: Intake,
) -> None:
    await configured(intake)
    firm_id, _ = await intake.firm_with_key()
    address = f"clk-{secrets.token_hex(4)}@initech.com"
    click = {"type": "email.clicked", "contact": {"email": address}, "firm": firm_id, "at": 1.7e9}
    answer = await post(intake, *signed(click))
    assert answer.json()["outcome"] == "activity_logged"
    no_firm = await post(intake, *signed({**click, "firm": "nope"}))
    assert no_firm.status_code == 422
    assert no_firm.json()["errors"][0]["field"] == "firm_id"
    no_email = await post(intake, *signed({"type": "webinar.registered", "contact": {}}))
    assert no_email.status_code == 422
    assert no_email.json()["errors"][0]["field"] == "email"
    ignored = await post(intake, *signed({"type": "page.viewed"}))
    assert ignored.json() == {"outcome": "ignored"}
