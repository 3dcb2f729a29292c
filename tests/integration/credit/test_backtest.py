"""The credit backtest against the real database: a firm's generated history decided again
under its current contract reproduces every decision (0 differences); draft terms show
the money they would have moved, per month and per lead with both reason lists; nothing
is written either way."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import func, select, text

from services.credit.app import create_app
from services.credit.backtest import backtest_credit
from services.credit.domain.contract import PriceTier, Terms
from services.credit.tables import decisions, ledger
from shared.db import SessionFactory
from shared.plumbing_tables import outbox_table
from tests.integration.credit.conftest import Firm, apply, new_firm, new_lead
from tests.support.credentials import ADMIN, READ, bearer
from tests.support.infra import Infra

OCTOBER, NOVEMBER = date(2026, 10, 1), date(2026, 11, 1)
WINDOW = (OCTOBER, date(2026, 12, 1))


async def _history(sessions: SessionFactory) -> Firm:
    """Twelve leads a month in October and November; every third with a meeting booked
    and held, every fifth returned by sales as not in the profile."""
    firm = await new_firm(sessions)
    for month in (OCTOBER, NOVEMBER):
        for n in range(12):
            at = datetime(month.year, month.month, 2 + n, 15, tzinfo=UTC)
            lead = await new_lead(sessions, firm, at)
            if n % 3 == 0:
                meeting = uuid4()
                await apply(
                    sessions,
                    firm.meeting(lead, meeting, "booked", at + timedelta(days=1),
                                 scheduled_for=at + timedelta(days=3)),
                    firm.meeting(lead, meeting, "held", at + timedelta(days=3)),
                )  # fmt: skip
            if n % 5 == 4:
                await apply(
                    sessions, firm.status(lead, "rejected", at + timedelta(days=2), "not_icp")
                )
    return firm


async def _written(sessions: SessionFactory) -> tuple[int, int, int]:
    async with sessions() as session:
        return (
            int(await session.scalar(select(func.count()).select_from(decisions)) or 0),
            int(await session.scalar(select(func.count()).select_from(ledger)) or 0),
            int(
                await session.scalar(select(func.count()).select_from(outbox_table("credit"))) or 0
            ),
        )


async def test_the_current_contract_reproduces_every_stored_decision(
    sessions: SessionFactory,
) -> None:
    firm = await _history(sessions)
    before = await _written(sessions)
    report = await backtest_credit(sessions, firm.firm_id, None, WINDOW)
    assert report.leads == 24
    assert report.differences == 0, [(c.lead_id, c.why) for c in report.changes]
    assert report.terms == f"{firm.firm_id}/v1"
    assert [m.month for m in report.months] == ["2026-10", "2026-11"]
    for month in report.months:
        assert month.leads == 12
        assert (month.credited_after, month.amount_after) == (
            month.credited_before,
            month.amount_before,
        )
        assert month.credited_before > 0
    assert await _written(sessions) == before  # nothing written, nothing published


async def test_draft_terms_show_the_money_they_move_per_month_and_per_lead(
    sessions: SessionFactory,
) -> None:
    firm = await _history(sessions)
    before = await _written(sessions)
    draft = Terms(meeting_tiers=[PriceTier(from_nth=1, price=Decimal("500.00"))])
    report = await backtest_credit(sessions, firm.firm_id, draft, WINDOW)
    assert report.terms == "draft"
    assert report.differences > 0
    for month in report.months:  # the same meetings credited, each at the draft's price
        assert month.credited_after == month.credited_before
        assert month.amount_after == month.amount_before / 350 * 500
    raised = [c for c in report.changes if c.after.amount == Decimal("500.00")]
    assert raised
    change = raised[0]
    assert change.before is not None
    assert change.before.reasons != change.after.reasons  # both lists, to read side by side
    assert change.before.amount == Decimal("350.00")
    assert any("500.00" in sentence for sentence in change.after.reasons)
    assert change.why == "the draft terms decide it otherwise"
    assert await _written(sessions) == before
    # the statements as they would have been: each month's 350.00 lines paid at 500.00
    for month in report.months:
        lines = {line.what: line for line in month.statement}
        assert lines["credited 500.00 each"].after == lines["credited 350.00 each"].before > 0
        assert lines["credited 500.00 each"].before == lines["credited 350.00 each"].after == 0
        assert sum(line.amount_after for line in month.statement) == month.amount_after
    told: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        told.append((done, total))

    chunked = await backtest_credit(
        sessions, firm.firm_id, draft, WINDOW, progress=progress, chunk=10
    )
    assert told == [(10, 24), (20, 24), (24, 24)]  # read 10 at a time, told after each
    assert (chunked.leads, chunked.differences) == (report.leads, report.differences)
    assert [m.amount_after for m in chunked.months] == [m.amount_after for m in report.months]


async def finished(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Queue a backtest (202 and where to find it), poll it until its child process has
    run it: its result."""
    queued = await client.post(path, json=body, headers=bearer(ADMIN))
    assert queued.status_code == 202, queued.text
    where = queued.headers["location"]
    assert where == f"{path}/{queued.json()['backtest_id']}"
    for _ in range(300):
        job = (await client.get(where, headers=bearer(ADMIN))).json()
        if job["status"] in ("done", "failed"):
            assert job["status"] == "done", job["error"]
            assert job["progress"]["done"] == job["progress"]["total"] == job["result"]["leads"]
            result: dict[str, Any] = job["result"]
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"backtest {where} did not end")


@pytest.fixture
async def client(infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(infra.settings())
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://credit", timeout=30
        ) as found:
            yield found
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_the_api_backtests_for_admins_and_refuses_a_bad_window(
    sessions: SessionFactory, client: httpx.AsyncClient
) -> None:
    firm = await _history(sessions)
    path = f"/v1/firms/{firm.firm_id}/contract/backtests"
    body = {
        "from": "2026-10-01",
        "to": "2026-12-01",
        "terms": {"meeting_tiers": [{"from_nth": 1, "price": "90.00"}]},
    }
    found = await finished(client, path, body)
    assert (found["leads"], found["terms"]) == (24, "draft")
    assert found["differences"] == len(found["changes"]) > 0
    assert found["changes"][0]["before"]["reasons"]
    statement = found["months"][0]["statement"]
    assert {line["what"] for line in statement} >= {"credited 90.00 each"}
    proof = await finished(client, path, {**body, "terms": None})
    assert proof["differences"] == 0
    async with sessions() as session:  # the summaries, for the ops dashboard, in the outbox
        told = (
            (
                await session.execute(
                    text(
                        "SELECT payload->'data' FROM credit.outbox WHERE payload->>'type' = :t"
                        " AND payload->'data'->>'firm' = :f ORDER BY id"
                    ),
                    {"t": "leadflow.backtest.finished.v1", "f": firm.firm_id},
                )
            )
            .scalars()
            .all()
        )
    assert [t["backtested"] for t in told] == ["draft", f"{firm.firm_id}/v1"]
    assert [bar["label"] for bar in told[0]["bars"]] == ["2026-10", "2026-11"]
    assert "firm_id" not in told[0]  # never filed under the firm
    listed = await client.get(path, headers=bearer(ADMIN))
    assert [job["status"] for job in listed.json()] == ["done", "done"]
    assert listed.json()[0]["result"] is None  # the list leaves results out
    other_firm = await client.get(
        f"/v1/firms/nobody/contract/backtests/{listed.json()[0]['backtest_id']}",
        headers=bearer(ADMIN),
    )
    assert other_firm.status_code == 404
    assert (await client.post(path, json=body, headers=bearer(READ))).status_code == 403
    backwards = await client.post(path, json={**body, "to": "2026-09-01"}, headers=bearer(ADMIN))
    assert backwards.status_code == 422
    assert backwards.headers["content-type"] == "application/problem+json"
    bad_terms = await client.post(
        path, json={**body, "terms": {"price_per_lead": "-1"}}, headers=bearer(ADMIN)
    )
    assert bad_terms.status_code == 422
    assert "terms.price_per_lead" in bad_terms.text


def _cli(infra: Infra, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": infra.database_url, "COLUMNS": "200"}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "backtest", "credit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_cli_prints_the_months_and_the_changes_and_fails_a_bad_proof(
    sessions: SessionFactory, infra: Infra, tmp_path: Path
) -> None:
    firm = await _history(sessions)
    window = ["--firm", firm.firm_id, "--from", "2026-10-01", "--to", "2026-12-01"]
    proof = _cli(infra, *window)
    assert proof.returncode == 0, proof.stderr
    assert "24 leads, 0 decided otherwise" in proof.stdout
    draft = tmp_path / "draft.yaml"
    draft.write_text("meeting_tiers:\n  - {from_nth: 1, price: '500.00'}\n")
    shown = _cli(infra, *window, "--terms", str(draft), "--changes", "1")
    assert shown.returncode == 0, shown.stderr
    assert "2026-10" in shown.stdout
    assert "-> credited 500.00" in shown.stdout
    assert "credited 500.00 each" in shown.stdout  # the statements' lines
    assert "after:  The meeting earns 500.00 USD." in shown.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("price_per_lead: -1\n")
    refused = _cli(infra, *window, "--terms", str(bad))
    assert refused.returncode != 0
    assert "price_per_lead" in refused.stderr + refused.stdout
