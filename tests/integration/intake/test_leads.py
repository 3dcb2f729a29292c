"""The ops lead API with duplicates and Idempotency-Key, against real PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets

from sqlalchemy import func, select

from services.intake.tables import leads as LeadRow
from shared.db import SessionFactory
from tests.integration.intake.conftest import Intake


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
