"""Credit's HTTP API in process, on the real database and broker, with the review sweep
running inside the app on a clock the test moves: contract terms refused with the field
named and nothing stored, reports and statements as JSON and CSV, partner calls need a
key."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.credit.app import create_app
from shared.db import SessionFactory
from tests.integration.credit.conftest import Clock, Firm, apply, current, new_firm, new_lead
from tests.support.credentials import ADMIN
from tests.support.infra import Infra

TOKEN = ADMIN
OPS = {"Authorization": f"Bearer {TOKEN}"}
WED = datetime(2026, 11, 25, 15, tzinfo=UTC)  # the day before Thanksgiving (US)


@dataclass
class Credit:
    client: httpx.AsyncClient
    clock: Clock


@contextlib.asynccontextmanager
async def running_credit(infra: Infra, clock: Clock) -> AsyncIterator[Credit]:
    """Credit in process, its review sweep every 50 ms on ``clock``."""
    app = create_app(
        infra.settings(),
        clock=clock,
        sweep_every_s=0.05,
    )
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://credit", timeout=30
    )
    try:
        yield Credit(client, clock)
    finally:
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def credit(infra: Infra) -> AsyncIterator[Credit]:
    async with running_credit(infra, Clock(WED)) as running:
        yield running


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"country": "XX"}, "country"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"acceptance_business_days": -1}, "acceptance_business_days"),
        ({"silence_means": "maybe"}, "silence_means"),
        ({"return_cap_per_month": -2}, "return_cap_per_month"),
        ({"no_such_term": 1}, "no_such_term"),
    ],
)
async def test_bad_terms_are_refused_naming_the_field_and_nothing_is_stored(
    credit: Credit, terms: dict[str, object], field: str
) -> None:
    firm = f"firm-bad-{field.replace('_', '-')}"
    refused = await credit.client.put(f"/v1/firms/{firm}/contract", json=terms, headers=OPS)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert any(field in e["field"] for e in refused.json()["errors"]), refused.json()
    assert (await credit.client.get(f"/v1/firms/{firm}/contract", headers=OPS)).status_code == 404


async def test_the_services_sweep_accepts_by_silence_when_its_clock_passes_the_deadline(
    credit: Credit, sessions: SessionFactory
) -> None:
    firm = await new_firm(sessions, pays_for="lead", acceptance_business_days=2)
    lead = await new_lead(sessions, firm, WED)
    await asyncio.sleep(0.3)  # several sweeps on Wednesday: nothing due
    assert (await current(sessions, lead)).state == "pending"
    credit.clock.now = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)  # after Mon 30th
    for _ in range(100):
        if (await current(sessions, lead)).state == "credited":
            break
        await asyncio.sleep(0.05)
    got = await credit.client.get(f"/v1/leads/{lead}/credit", headers=OPS)
    decision = got.json()["decision"]
    assert decision["state"] == "credited"
    assert decision["decided_at"] == "2026-12-01T00:00:00Z"
    assert "acceptance.by_silence" in [r["rule"] for r in decision["reasons"]]


async def test_a_deadline_that_passed_while_no_instance_ran_is_acted_on_at_start(
    infra: Infra, sessions: SessionFactory
) -> None:
    """The due time is a database row, not a timer in memory: a service started after it
    passed re-decides the lead on its first sweep, once, as of the deadline."""
    firm = await new_firm(sessions, pays_for="lead", acceptance_business_days=2)
    lead = await new_lead(sessions, firm, WED)
    after = Clock(datetime(2026, 12, 3, tzinfo=UTC))
    async with running_credit(infra, after), running_credit(infra, after):  # two instances
        for _ in range(100):
            if (await current(sessions, lead)).state == "credited":
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # more sweeps by both: nothing more to do
    row = await current(sessions, lead)
    assert (row.state, row.revision) == ("credited", 2)
    assert row.decided_at == datetime(2026, 12, 1, tzinfo=UTC)


async def _firm_with_a_month(sessions: SessionFactory) -> tuple[Firm, str]:
    firm = await new_firm(sessions, pays_for="lead", acceptance_business_days=0)
    kept = await new_lead(sessions, firm, WED)
    returned = await new_lead(sessions, firm, WED + timedelta(hours=1))
    await apply(sessions, firm.status(returned, "rejected", WED + timedelta(hours=2), "not_icp"))
    return firm, str(kept)


async def test_reports_and_statements_as_json_and_csv(
    credit: Credit, sessions: SessionFactory
) -> None:
    firm, kept = await _firm_with_a_month(sessions)
    base = f"/v1/firms/{firm.firm_id}"
    daily = (await credit.client.get(f"{base}/reports/daily/2026-11-25", headers=OPS)).json()
    assert (daily["leads_sent"], daily["rejected"], daily["credited"]) == (2, 1, 1)
    assert daily["rejected_reasons"] == {"not_icp": 1}
    for path in ("reports/daily/2026-11-25", "reports/weekly/2026-11-27", "statements/2026-11"):
        as_csv = await credit.client.get(f"{base}/{path}", params={"format": "csv"}, headers=OPS)
        assert as_csv.status_code == 200, path
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert kept in as_csv.text
    statement = (await credit.client.get(f"{base}/statements/2026-11", headers=OPS)).json()
    assert [line["amount"] for line in statement["lines"]] == ["150.00", "150.00", "-150.00"]
    assert (statement["credited"], statement["clawed_back"], statement["total"]) == (
        "300.00",
        "-150.00",
        "150.00",
    )
    bad = await credit.client.get(f"{base}/reports/daily/2026-11-25", params={"format": "xml"})
    assert bad.status_code == 401  # no token: refused before anything else
    bad = await credit.client.get(
        f"{base}/reports/daily/2026-11-25", params={"format": "xml"}, headers=OPS
    )
    assert bad.status_code == 422


async def test_partner_reports_need_the_firms_key(credit: Credit) -> None:
    for path in ("/v1/partner/reports/daily/2026-11-25", "/v1/partner/statements/2026-11"):
        assert (await credit.client.get(path)).status_code == 401
        stranger = {"Authorization": "Bearer not-a-key"}
        assert (await credit.client.get(path, headers=stranger)).status_code == 401
