"""Two instances of each service against one database and broker: consumer groups share
the partitions, relays take turns, and every lead is decided exactly once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from services.stack import load_demo
from shared.db import SessionFactory
from tests.support.infra import Infra
from tests.support.stack import Stack, run_stack

DOMAINS = ["walmart.com", "initech.com", "globex.com", "gmail.com", "example.org"]


@pytest.fixture(scope="module")
def doubled(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    asyncio.run(load_demo(infra.database_url))
    logs: Path = tmp_path_factory.mktemp("doubled-logs")
    with run_stack(infra, logs, instances=2) as running:
        yield running


async def test_two_of_each_decide_every_lead_exactly_once(
    doubled: Stack, sessions: SessionFactory
) -> None:
    intakes = doubled.all_urls["intake"]
    assert len(intakes) == 2
    assert len(doubled.all_urls["router"]) == 2
    async with httpx.AsyncClient(timeout=30, headers=doubled.auth) as client:

        async def post(i: int) -> str:
            lead = {"email": f"scale{i}-{time.time_ns()}@{DOMAINS[i % 5]}", "source": "scale"}
            answer = await client.post(f"{intakes[i % 2]}/v1/leads", json=lead)
            assert answer.status_code == 202, answer.text
            return str(answer.json()["lead_id"])

        lead_ids = await asyncio.gather(*(post(i) for i in range(120)))

    query = text(
        "SELECT l.id::text,"
        " (SELECT count(*) FROM router.routing_decisions r WHERE r.lead_id = l.id),"
        " (SELECT count(*) FROM credit.credit_decisions c WHERE c.lead_id = l.id)"
        " FROM intake.leads l WHERE l.id::text = ANY(:ids)"
    )
    deadline = time.monotonic() + 90
    while True:
        async with sessions() as session:
            rows = (await session.execute(query, {"ids": lead_ids})).all()
        decided = [r for r in rows if r[1] and r[2]]
        if len(decided) == len(lead_ids) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert len(rows) == 120
    assert all(r[1] == 1 for r in rows), "a lead was routed more or less than once"
    assert all(r[2] == 1 for r in rows), "a lead was credited more or less than once"
