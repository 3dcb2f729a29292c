"""The backtests ops shows, on the real database: a finished backtest's summary kept in
the event log is served by ``GET /v1/backtests`` to ops staff, newest first; a partner
key is refused, and ops never files a contract's backtest under the firm (a partner's
stream would carry it)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import text

from services.ops.app import create_app
from services.ops.recording import record_all
from shared import credentials
from shared.db import SessionFactory
from shared.events.backtests import BacktestFinished, Bar, Move
from tests.support.credentials import READ, bearer
from tests.support.infra import Infra


def finished(kind: Literal["routing", "credit"], firm: str | None) -> BacktestFinished:
    return BacktestFinished(
        backtest_id=uuid4(),
        kind=kind,
        backtested="draft" if firm else "v2",
        firm=firm,
        window_from=date(2026, 11, 1),
        window_to=date(2026, 12, 1),
        leads=40,
        differences=12,
        unit="USD" if firm else "leads",
        bars=[Bar(label="2026-11", before=Decimal("3500.00"), after=Decimal("5000.00"))],
        moves=[Move(before="credited 350.00", after="credited 500.00", leads=10)],
        ran_by="tests",
        finished_at=datetime.now(UTC),
    )


@pytest.fixture
async def ops(infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(infra.settings())
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ops", timeout=30
        ) as client:
            yield client
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_finished_backtests_are_served_to_ops_newest_first_and_never_to_a_partner(
    sessions: SessionFactory, ops: httpx.AsyncClient
) -> None:
    firm = f"firm-{secrets.token_hex(4)}"
    routing, credit = finished("routing", None), finished("credit", firm)
    async with sessions() as session, session.begin():
        await record_all(
            session,
            [
                (routing.envelope("/router"), "backtests.finished"),
                (credit.envelope("/credit"), "backtests.finished"),
            ],
        )
    listed = await ops.get("/v1/backtests", headers=bearer(READ))
    assert listed.status_code == 200, listed.text
    shown = listed.json()
    assert [b["backtest_id"] for b in shown[:2]] == [
        str(credit.backtest_id),
        str(routing.backtest_id),
    ]
    assert shown[0]["bars"] == [{"label": "2026-11", "before": "3500.00", "after": "5000.00"}]
    assert shown[0]["firm"] == firm
    async with sessions() as session:
        filed = await session.scalar(
            text("SELECT firm_id FROM ops.event_log WHERE type = :t AND data->>'firm' = :f"),
            {"t": BacktestFinished.event_type, "f": firm},
        )
    assert filed is None  # not under the firm: a partner's stream filters by this column
    async with sessions() as session, session.begin():
        partner = await credentials.issue(
            session, name="backtests test", scopes=("partner",), created_by="tests", firm_id=firm
        )
    refused = await ops.get("/v1/backtests", headers=bearer(partner.token))
    assert refused.status_code == 403
    assert (await ops.get("/v1/backtests?limit=0", headers=bearer(READ))).status_code == 422
