"""Partner API against real PostgreSQL and the broker: keys, batches with per-item
results, own-records-only reads, activities and meetings published, rate limit."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from services.intake.firms import keep_contract_terms
from shared import audit
from shared.events.activities import ActivityLogged, MeetingUpdated
from shared.events.firms import ContractChanged
from shared.events.leads import LeadReceived
from shared.events.status import LeadDuplicate
from tests.integration.intake.conftest import Intake, running_intake
from tests.support.infra import Infra
from tests.support.kafka import read_until


def email(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(4)}@initech.com"


async def test_a_batch_gets_per_item_results_and_the_callers_firm(intake: Intake) -> None:
    firm_id, key = await intake.firm_with_key()
    same = email("pat")
    batch = {
        "leads": [
            {"email": same, "company": "Initech LLC", "source": "outbound"},
            {"email": "not-an-email", "source": "outbound"},
            {"email": same, "source": "outbound"},
            {"email": email("x"), "firm_id": "someone-else"},
        ]
    }
    answer = await intake.client.post("/v1/partner/leads", json=batch, headers=key)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    outcomes = [r["outcome"] for r in body["results"]]
    assert outcomes == ["accepted", "rejected", "duplicate", "rejected"]
    assert body["results"][1]["errors"][0]["field"] == "email"
    assert body["results"][3]["errors"][0]["field"] == "firm_id"
    lead_id = body["results"][0]["id"]
    assert body["results"][2]["id"] == lead_id

    mine = await intake.client.get(f"/v1/partner/leads/{lead_id}", headers=key)
    assert mine.status_code == 200
    assert mine.json()["email"] == same

    seen = await read_until(
        intake.bootstrap,
        "leads.received.bulk",  # a batch travels in the bulk lane
        lambda s: any(
            e.type == LeadDuplicate.event_type and e.data["lead_id"] == lead_id for e in s
        ),
    )
    received = [e for e in seen if e.data.get("lead_id") == lead_id]
    assert [e.type for e in received].count(LeadReceived.event_type) == 1
    assert received[0].data["firm_id"] == firm_id


async def test_a_partner_reading_another_partners_lead_gets_404(intake: Intake) -> None:
    _, key_a = await intake.firm_with_key()
    _, key_b = await intake.firm_with_key()
    made = await intake.client.post("/v1/partner/leads", json={"email": email("a")}, headers=key_a)
    lead_id = made.json()["results"][0]["id"]
    theirs = await intake.client.get(f"/v1/partner/leads/{lead_id}", headers=key_b)
    assert theirs.status_code == 404
    assert theirs.headers["content-type"] == "application/problem+json"
    missing = await intake.client.get(f"/v1/partner/leads/{lead_id[:-4]}0000", headers=key_b)
    assert missing.status_code == 404
    assert (await intake.client.get(f"/v1/partner/leads/{lead_id}")).status_code == 401


async def test_a_revoked_key_is_refused_and_both_changes_are_audited(intake: Intake) -> None:
    firm_id, key = await intake.firm_with_key()
    firm = (await intake.client.get(f"/v1/firms/{firm_id}", headers=intake.ops)).json()
    key_id = firm["keys"][0]["key_id"]
    revoked = await intake.client.delete(f"/v1/firms/{firm_id}/keys/{key_id}", headers=intake.ops)
    assert revoked.status_code == 204
    refused = await intake.client.post("/v1/partner/leads", json={"email": email("r")}, headers=key)
    assert refused.status_code == 401
    again = await intake.client.delete(f"/v1/firms/{firm_id}/keys/{key_id}", headers=intake.ops)
    assert again.status_code == 409
    assert "already revoked" in again.json()["detail"]
    async with intake.sessions() as session:
        trail = await audit.entries(
            session, audit.AuditQuery(entity_type="firm", entity_id=firm_id)
        )
    assert [e.action for e in reversed(trail)] == ["firm.created", "key.issued", "key.revoked"]
    assert all(e.actor == "tests (admin) (00000000000000ad)" for e in trail)
    assert trail[0].after == {"key_id": key_id, "revoked": True}


async def test_activities_and_meetings_are_published_with_event_time(intake: Intake) -> None:
    firm_id, key = await intake.firm_with_key()
    contact = email("m")
    happened = datetime.now(UTC) - timedelta(days=3)
    logged = await intake.client.post(
        "/v1/partner/activities",
        json={
            "activities": [
                {"kind": "call", "occurred_at": happened.isoformat(), "contact_email": contact},
                {"kind": "fax", "occurred_at": happened.isoformat(), "contact_email": contact},
            ]
        },
        headers=key,
    )
    assert logged.status_code == 202, logged.text
    assert [r["outcome"] for r in logged.json()["results"]] == ["accepted", "rejected"]
    activity_id = logged.json()["results"][0]["id"]

    booked = await intake.client.post(
        "/v1/partner/meetings", json={"contact_email": contact}, headers=key
    )
    assert booked.status_code == 201, booked.text
    meeting_id = booked.json()["meeting_id"]
    held = await intake.client.patch(
        f"/v1/partner/meetings/{meeting_id}", json={"status": "held"}, headers=key
    )
    assert held.status_code == 200
    assert held.json()["status"] == "held"
    _, other = await intake.firm_with_key()
    assert (
        await intake.client.patch(
            f"/v1/partner/meetings/{meeting_id}", json={"status": "no_show"}, headers=other
        )
    ).status_code == 404

    activities = await read_until(
        intake.bootstrap,
        "activities.logged",
        lambda s: any(e.data["activity_id"] == activity_id for e in s),
    )
    event = next(e for e in activities if e.data["activity_id"] == activity_id)
    assert event.type == ActivityLogged.event_type
    assert datetime.fromisoformat(event.data["occurred_at"]) == happened
    assert event.data["firm_id"] == firm_id
    meetings = await read_until(
        intake.bootstrap,
        "meetings.updated",
        lambda s: sum(e.data["meeting_id"] == meeting_id for e in s) >= 2,
    )
    statuses = [e.data["status"] for e in meetings if e.data["meeting_id"] == meeting_id]
    assert statuses == ["booked", "held"]
    assert all(e.type == MeetingUpdated.event_type for e in meetings)


async def test_a_key_over_its_rate_gets_429_with_retry_after(infra: Infra) -> None:
    async with running_intake(infra, partner_rate_per_s=0.01, partner_burst=2) as intake:
        _, key = await intake.firm_with_key()
        codes = []
        for _ in range(3):
            answer = await intake.client.get(f"/v1/partner/leads/{'0' * 32}", headers=key)
            codes.append(answer.status_code)
        assert codes == [404, 404, 429]
        assert int(answer.headers["retry-after"]) >= 1
        assert answer.headers["content-type"] == "application/problem+json"


async def test_refused_single_items_and_oversized_batches_name_the_field(intake: Intake) -> None:
    _, key = await intake.firm_with_key()
    cases = [
        ("/v1/partner/leads", {"email": 5}, "email"),
        ("/v1/partner/leads", {"email": "nope"}, "email"),
        ("/v1/partner/leads", {"leads": []}, "leads"),
        ("/v1/partner/leads", {"leads": [{"email": "a@initech.com"}] * 501}, "leads"),
        ("/v1/partner/activities", {"kind": "call"}, "occurred_at"),
    ]
    for path, body, field in cases:
        answer = await intake.client.post(path, json=body, headers=key)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["errors"][0]["field"] == field, answer.text
    not_object = await intake.client.post("/v1/partner/leads", json=[1], headers=key)
    assert not_object.status_code == 422
    single = await intake.client.post(
        "/v1/partner/leads", json={"email": email("single")}, headers=key
    )
    assert single.status_code == 202
    assert single.json()["results"][0]["outcome"] == "accepted"


async def test_a_fact_dated_beyond_the_firms_reporting_window_is_refused(
    intake: Intake,
) -> None:
    """A firm reaching back weeks (a touch that would turn old inbound leads into credit)
    is refused naming occurred_at; the window is the firm's contract's term, which intake
    learns from credit's ``firms.contracts`` (the contracts' default before it has)."""
    firm_id, key = await intake.firm_with_key()
    now = datetime.now(UTC)
    touch = {"kind": "call", "contact_email": email("w")}
    for days_back, outcome in ((6, "accepted"), (20, "rejected")):
        at = (now - timedelta(days=days_back)).isoformat()
        answer = await intake.client.post(
            "/v1/partner/activities",
            json={"activities": [{**touch, "occurred_at": at}]},
            headers=key,
        )
        result = answer.json()["results"][0]
        assert result["outcome"] == outcome, result
    assert result["errors"][0]["field"] == "occurred_at"
    assert "more than 7 days ago" in result["errors"][0]["reason"]
    # the firm's contract allows 30 days: credit publishes it, intake applies it
    async with intake.sessions() as session, session.begin():
        await keep_contract_terms(
            session,
            ContractChanged(firm_id=firm_id, version=2, reporting_window_days=30, changed_at=now),
        )
    late = (now - timedelta(days=20)).isoformat()
    accepted = await intake.client.post(
        "/v1/partner/activities", json={**touch, "occurred_at": late}, headers=key
    )
    assert accepted.status_code == 202, accepted.text
    booked = await intake.client.post(
        "/v1/partner/meetings",
        json={"contact_email": email("w"), "booked_at": (now - timedelta(days=40)).isoformat()},
        headers=key,
    )
    assert booked.status_code == 422
    assert booked.json()["errors"][0]["field"] == "booked_at"


async def test_a_booking_reported_after_its_meeting_carries_its_real_time(
    intake: Intake,
) -> None:
    _, key = await intake.firm_with_key()
    meeting_at = datetime.now(UTC) - timedelta(days=2)
    booked = await intake.client.post(
        "/v1/partner/meetings",
        json={"contact_email": email("late"), "scheduled_for": meeting_at.isoformat()},
        headers=key,
    )
    assert booked.status_code == 201, booked.text
    meeting_id = booked.json()["meeting_id"]
    seen = await read_until(
        intake.bootstrap,
        "meetings.updated",
        lambda s: any(e.data["meeting_id"] == meeting_id for e in s),
    )
    event = next(e for e in seen if e.data["meeting_id"] == meeting_id)
    # not the report time: a no-show at the meeting's time must sort after the booking
    assert datetime.fromisoformat(event.data["occurred_at"]) == meeting_at
    after = await intake.client.post(
        "/v1/partner/meetings",
        json={
            "contact_email": email("late"),
            "scheduled_for": meeting_at.isoformat(),
            "booked_at": (meeting_at + timedelta(hours=1)).isoformat(),
        },
        headers=key,
    )
    assert after.status_code == 422
    assert after.json()["errors"][0]["field"] == "booked_at"


async def test_a_firm_cannot_report_what_sales_did_to_its_meeting(intake: Intake) -> None:
    _, key = await intake.firm_with_key()
    booked = await intake.client.post(
        "/v1/partner/meetings", json={"contact_email": email("sp7")}, headers=key
    )
    meeting_id = booked.json()["meeting_id"]
    for status in ("rescheduled_by_sales", "cancelled_by_sales"):
        refused = await intake.client.patch(
            f"/v1/partner/meetings/{meeting_id}", json={"status": status}, headers=key
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "status"
