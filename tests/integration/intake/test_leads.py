"""The ops lead API with duplicates and Idempotency-Key, against real PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets

from prometheus_client import REGISTRY
from sqlalchemy import func, select

from services.intake.tables import leads as LeadRow
from shared.db import SessionFactory
from tests.integration.intake.conftest import Intake
from tests.support.credentials import READ, SUBMIT, bearer


def email(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(4)}@initech.com"


async def leads_of(sessions: SessionFactory, address: str) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(LeadRow).where(LeadRow.c.email == address)
        )
    return int(count or 0)


async def test_a_retried_post_with_the_same_idempotency_key_creates_one_lead(
    intake: Intake, sessions: SessionFactory
) -> None:
    address = email("idem")
    headers = {**intake.ops, "Idempotency-Key": secrets.token_hex(8)}
    # different sources, so only the key (not dedup) can make them one lead
    first = await intake.client.post(
        "/v1/leads", json={"email": address, "source": "a"}, headers=headers
    )
    again = await intake.client.post(
        "/v1/leads", json={"email": address, "source": "a"}, headers=headers
    )
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    other_body = await intake.client.post(
        "/v1/leads", json={"email": address, "source": "b"}, headers=headers
    )
    assert other_body.status_code == 422
    assert other_body.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await leads_of(sessions, address) == 1


async def test_concurrent_retries_with_one_key_have_one_effect(
    intake: Intake, sessions: SessionFactory
) -> None:
    address = email("race")
    key = secrets.token_hex(8)
    answers = await asyncio.gather(
        *(
            intake.client.post(
                "/v1/leads",
                json={"email": address, "source": f"s{n}"},
                headers={**intake.ops, "Idempotency-Key": key},
            )
            for n in range(1)
        ),
        *(
            intake.client.post(
                "/v1/leads",
                json={"email": address, "source": "s0"},
                headers={**intake.ops, "Idempotency-Key": key},
            )
            for _ in range(4)
        ),
    )
    assert {a.status_code for a in answers} <= {202, 409}
    assert await leads_of(sessions, address) == 1


async def test_the_same_person_from_the_same_source_is_a_repeat(
    intake: Intake, sessions: SessionFactory
) -> None:
    address = email("dup")
    lead = {"email": address.upper(), "company": "Initech, Inc.", "source": "webinar"}
    first = await intake.client.post("/v1/leads", json=lead, headers=intake.ops)
    second = await intake.client.post("/v1/leads", json=lead, headers=intake.ops)
    other = await intake.client.post(
        "/v1/leads", json={**lead, "source": "website"}, headers=intake.ops
    )
    assert first.json()["duplicate"] is False
    assert second.json() == {"lead_id": first.json()["lead_id"], "duplicate": True}
    assert other.json()["lead_id"] != first.json()["lead_id"]
    stored = await intake.client.get(f"/v1/leads/{first.json()['lead_id']}", headers=intake.ops)
    assert stored.json()["company_key"] == "initech"
    assert await leads_of(sessions, address) == 2


async def test_a_disposable_address_is_flagged_not_refused(intake: Intake) -> None:
    answer = await intake.client.post(
        "/v1/leads", json={"email": f"{secrets.token_hex(4)}@mailinator.com"}, headers=intake.ops
    )
    assert answer.status_code == 202
    stored = await intake.client.get(f"/v1/leads/{answer.json()['lead_id']}", headers=intake.ops)
    assert stored.json()["disposable"] is True


async def test_the_lead_door_answers_as_a_declared_route_would(intake: Intake) -> None:
    """``POST /v1/leads`` reads its credential and body itself (the hot path): the same
    answers, in the same order, as FastAPI's dependency and body validation give."""
    post = intake.client.post
    no_key = await post("/v1/leads", content=b"{not json")
    assert no_key.status_code == 401  # the credential first, as a dependency is solved
    assert no_key.headers["www-authenticate"] == "Bearer"
    read_only = await post("/v1/leads", json={"email": email("ro")}, headers=bearer(READ))
    assert read_only.status_code == 403
    assert read_only.json()["errors"] == [
        {"field": "Authorization", "reason": "needs the submit scope"}
    ]
    submit = bearer(SUBMIT)
    not_json = await post("/v1/leads", content=b"{not json", headers=submit)
    assert not_json.status_code == 422
    assert not_json.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in not_json.json()["errors"]] == ["body"]
    not_text = await post("/v1/leads", content=b"\xff{", headers=submit)
    assert not_text.status_code == 400  # not JSON at all: a bad request, not a bad field
    assert not_text.headers["content-type"] == "application/problem+json"
    wrong = await post(
        "/v1/leads", json={"email": 7, "campaign": "x" * 201, "color": "red"}, headers=submit
    )
    assert wrong.status_code == 422
    assert {e["field"] for e in wrong.json()["errors"]} == {"email", "campaign", "color"}
    unusable = await post("/v1/leads", json={"email": "no-at-sign"}, headers=submit)
    assert unusable.status_code == 422
    assert [e["field"] for e in unusable.json()["errors"]] == ["email"]
    served = {"service": "intake", "method": "POST", "route": "/v1/leads", "status": "202"}
    before = REGISTRY.get_sample_value("leadflow_http_requests_total", served) or 0
    accepted = await post("/v1/leads", json={"email": email("door")}, headers=submit)
    assert accepted.status_code == 202
    assert accepted.headers["content-type"] == "application/json"
    assert set(accepted.json()) == {"lead_id", "duplicate"}
    assert REGISTRY.get_sample_value("leadflow_http_requests_total", served) == before + 1
    operation = (await intake.client.get("/openapi.json")).json()["paths"]["/v1/leads"]["post"]
    assert operation["security"] == [{"HTTPBearer": []}]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["email"]
    assert body["additionalProperties"] is False
    assert operation["responses"]["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LeadAccepted"
    }
