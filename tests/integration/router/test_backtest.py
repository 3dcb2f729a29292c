"""The routing backtest against the real database: leads routed by the real service,
decided again under the same rule set, reproduce every decision, round robin included
(its counters rewound to the window's start); a draft shows what would move, by rule and
by owner, the flags gained and lost and each owner's load; nothing is written."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import yaml
from sqlalchemy import func, select, text

from services.router import service, workspace
from services.router.app import create_app
from services.router.backtest import UnknownInChanges, WorkspaceChanges, backtest_routing
from services.router.domain.model import Territory
from services.router.domain.ruleset import RuleSet
from services.router.schemas import TerritoryIn
from services.router.settings import RouterSettings
from services.router.tables import RoutingDecisionRow
from shared.db import SessionFactory
from shared.events.leads import LeadReceived
from tests.integration.router.conftest import OUTBOX, Workspace
from tests.support.credentials import ADMIN, READ, bearer
from tests.support.infra import Infra


def _lead(domain: str, at: datetime, country: str | None) -> LeadReceived:
    return LeadReceived(
        lead_id=uuid4(),
        received_at=at,
        channel="api",
        source="test",
        email=f"someone@{domain}",
        email_domain=domain,
        company=None,
        country=country,
    )


async def _history(sessions: SessionFactory, ws: Workspace, month: date) -> None:
    """Twelve leads routed one by one by the service: four on Acme (its named owner Ana),
    eight from the US on no account (the territory's team, by weighted round robin)."""
    for n in range(12):
        at = datetime(month.year, month.month, 1 + n, 15, tzinfo=UTC)
        domain = ws.domain("acme") if n % 3 == 0 else f"prospect{n}-{ws.tag}.com"
        lead = _lead(domain, at, "US")
        async with sessions() as session, session.begin():
            await service.route_new_leads(
                session, OUTBOX, [(lead, None)], ruleset=ws.ruleset, now=at + timedelta(seconds=1)
            )


async def _decisions(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(RoutingDecisionRow)) or 0)


async def test_the_rule_set_in_force_reproduces_every_decision_round_robin_included(
    sessions: SessionFactory, ws: Workspace
) -> None:
    month = date(2031, 3, 1)
    await _history(sessions, ws, month)
    before = await _decisions(sessions)
    report = await backtest_routing(sessions, ws.ruleset, (month, date(2031, 4, 1)))
    assert report.leads == 12
    assert (report.changed, report.rotation) == (0, 0), report.samples
    assert report.ruleset == ws.ruleset.version
    owners = {owner for owner, _day in report.load}
    assert {ws.id("ana"), ws.id("ben")} <= owners  # the round robin's picks, as they were
    assert sum(report.load.values()) == 12
    assert await _decisions(sessions) == before  # nothing written


async def test_a_draft_shows_what_moves_by_rule_and_owner(
    sessions: SessionFactory, ws: Workspace
) -> None:
    month = date(2031, 5, 1)
    await _history(sessions, ws, month)
    draft = RuleSet.model_validate(
        {
            "version": f"draft-{ws.tag}",
            "rules": [
                {"kind": "customer"},
                {"kind": "firm_assignment"},
                {"kind": "named_owner"},
                {"kind": "unassigned"},
            ],
        }
    )
    report = await backtest_routing(sessions, draft, (month, date(2031, 6, 1)))
    assert report.ruleset == draft.version
    assert report.changed == 8  # the territory's leads, now unassigned
    assert report.rotation == 0
    assert {after for (_before, after) in report.by_rule} == {"unassigned"}
    assert sum(report.by_rule.values()) == 8
    assert {after for (_before, after) in report.by_owner} == {"-"}
    assert set(report.load) == {(ws.id("ana"), f"2031-05-{d:02d}") for d in (1, 4, 7, 10)}
    sample = report.samples[0]
    assert sample.before.owner_id is not None
    assert sample.after.owner_id is None
    assert any(s.startswith("round_robin ✓") for s in sample.before.trace)
    assert sample.after.trace  # both traces, to read side by side
    told: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        told.append((done, total))

    chunked = await backtest_routing(
        sessions, draft, (month, date(2031, 6, 1)), progress=progress, chunk=5
    )
    assert told == [(5, 12), (10, 12), (12, 12)]  # read 5 at a time, told after each
    assert (chunked.leads, chunked.changed, chunked.by_owner) == (12, 8, report.by_owner)


async def test_draft_workspace_changes_an_account_handed_over_and_an_owner_away(
    sessions: SessionFactory, ws: Workspace
) -> None:
    month = date(2031, 9, 1)
    await _history(sessions, ws, month)
    window = (month, date(2031, 10, 1))
    ana, ben = ws.id("ana"), ws.id("ben")
    handed = await backtest_routing(
        sessions,
        ws.ruleset,
        window,
        changes=WorkspaceChanges(account_owners={ws.id("acme"): ben}),
    )
    assert (handed.changed, handed.rotation) == (4, 0)  # Acme's four leads, to Ben
    assert handed.by_owner == {(ana, ben): 4}
    away = await backtest_routing(
        sessions, ws.ruleset, window, changes=WorkspaceChanges(owners_away=frozenset({ana}))
    )
    acme_days = {f"2031-09-{d:02d}" for d in (1, 4, 7, 10)}
    # Out of office: the round robin skips her; Acme, her account, still names her.
    assert {day for owner, day in away.load if owner == ana} == acme_days
    assert all(after != ana for (_before, after) in away.by_owner)
    gone = await backtest_routing(
        sessions, ws.ruleset, window, changes=WorkspaceChanges(owners_inactive=frozenset({ana}))
    )
    assert all(owner != ana for owner, _day in gone.load)  # gone: nothing comes to her
    assert gone.changed >= 4  # Acme's leads fell back to her team
    with pytest.raises(UnknownInChanges):
        await backtest_routing(
            sessions, ws.ruleset, window, changes=WorkspaceChanges(owners_away=frozenset({"x"}))
        )


async def test_a_territory_moved_sends_its_leads_elsewhere(
    sessions: SessionFactory, ws: Workspace
) -> None:
    """A rule set routing by territory (North America: the US) reproduces the country
    rule's decisions; with the territory moved to cover Canada instead, its eight US
    leads fall through to the rules after it."""
    month = date(2031, 10, 1)
    await _history(sessions, ws, month)
    territory = ws.id("na")
    async with sessions() as session, session.begin():
        await workspace.put_territory(
            session, territory, TerritoryIn(name="North America", countries=["US"])
        )
    by_territory = RuleSet.model_validate(
        {
            **ws.ruleset.model_dump(mode="json"),
            "version": f"by-territory-{ws.tag}",
            "rules": [
                {"kind": "customer"},
                {"kind": "firm_assignment"},
                {"kind": "named_owner"},
                {"kind": "territory", "name": "us", "when": {"territories": [territory]},
                 "team": ws.team},
                {"kind": "unassigned"},
            ],
        }
    )  # fmt: skip
    window = (month, date(2031, 11, 1))
    same = await backtest_routing(sessions, by_territory, window)
    assert (same.changed, same.rotation) == (0, 0), same.samples
    moved = await backtest_routing(
        sessions,
        by_territory,
        window,
        changes=WorkspaceChanges(territories={territory: Territory(territory, "", ("CA",))}),
    )
    assert moved.changed == 8
    assert set(moved.by_rule) == {("us", "unassigned")}  # the rule named "us", then none
    with pytest.raises(UnknownInChanges):
        await backtest_routing(
            sessions,
            by_territory,
            window,
            changes=WorkspaceChanges(territories={"nowhere": Territory("nowhere", "", ("CA",))}),
        )


def _cli(infra: Infra, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": infra.database_url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "backtest", "routing", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def wait_done(client: httpx.AsyncClient, backtest_id: str) -> dict[str, Any]:
    """Poll the job until it ends (its child process runs it); its answer then."""
    for _ in range(300):
        found = await client.get(f"/v1/routing/backtests/{backtest_id}", headers=bearer(ADMIN))
        assert found.status_code == 200, found.text
        if found.json()["status"] in ("done", "failed"):
            job: dict[str, Any] = found.json()
            assert job["status"] == "done", job["error"]
            assert job["progress"]["done"] == job["progress"]["total"]
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"backtest {backtest_id} did not end")


async def finished(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    """Queue a backtest (202 and where to find it), wait for it: its result."""
    queued = await client.post("/v1/routing/backtests", json=body, headers=bearer(ADMIN))
    assert queued.status_code == 202, queued.text
    assert queued.headers["location"] == f"/v1/routing/backtests/{queued.json()['backtest_id']}"
    assert queued.json()["status"] == "queued"
    result: dict[str, Any] = (await wait_done(client, queued.json()["backtest_id"]))["result"]
    return result


@pytest.fixture
async def client(infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(infra.settings())
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://router", timeout=30
        ) as found:
            yield found
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_the_api_and_the_cli_backtest_a_draft_and_refuse_bad_input(
    sessions: SessionFactory, ws: Workspace, client: httpx.AsyncClient, infra: Infra,
    tmp_path: Path,
) -> None:  # fmt: skip
    month = date(2031, 7, 1)
    await _history(sessions, ws, month)
    body: dict[str, Any] = {
        "from": "2031-07-01",
        "to": "2031-08-01",
        "ruleset": ws.ruleset.model_dump(mode="json"),
    }
    same = await finished(client, body)
    assert (same["leads"], same["differences"]) == (12, 0)
    draft = {**body["ruleset"], "version": f"draft-{ws.tag}", "rules": [{"kind": "unassigned"}]}
    moved = await finished(client, {**body, "ruleset": draft})
    assert moved["differences"] == 12
    assert moved["samples"][0]["before"]["trace"]
    # the load per owner per day, before and after: all of it gone to nobody
    assert sum(day["leads_before"] for day in moved["load"]) == 12
    assert sum(day["leads"] for day in moved["load"]) == 0
    async with sessions() as session:  # its summary, for the ops dashboard, in the outbox
        told = await session.scalar(
            text(
                "SELECT payload->'data' FROM router.outbox WHERE payload->>'type' = :t"
                " AND payload->'data'->>'backtested' = :v"
            ),
            {"t": "leadflow.backtest.finished.v1", "v": draft["version"]},
        )
    assert told["kind"] == "routing"
    assert (told["leads"], told["differences"]) == (12, 12)
    assert sum(int(bar["before"]) for bar in told["bars"]) == 12
    assert all(int(bar["after"]) == 0 for bar in told["bars"])
    assert told["moves"][0]["after"] == "unassigned"
    listed = await client.get("/v1/routing/backtests", headers=bearer(ADMIN))
    assert listed.status_code == 200
    assert listed.json()[0]["status"] == "done"
    assert listed.json()[0]["result"] is None  # the list leaves results out
    assert (
        await client.get(f"/v1/routing/backtests/{uuid4()}", headers=bearer(ADMIN))
    ).status_code == 404
    away = await client.post(
        "/v1/routing/backtests",
        json={**body, "changes": {"owners_away": ["nobody"]}},
        headers=bearer(ADMIN),
    )
    assert away.status_code == 422
    assert away.json()["errors"][0]["field"] == "changes"
    nowhere = await client.post(
        "/v1/routing/backtests",
        json={**body, "changes": {"territories": {"emea": {"countries": ["Germany"]}}}},
        headers=bearer(ADMIN),
    )
    assert nowhere.status_code == 422
    assert nowhere.json()["errors"][0]["field"] == "changes.territories.emea.countries"
    assert (
        await client.post("/v1/routing/backtests", json=body, headers=bearer(READ))
    ).status_code == 403
    bad = await client.post(
        "/v1/routing/backtests",
        json={**body, "ruleset": {**draft, "rules": []}},
        headers=bearer(ADMIN),
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "rules"
    unknown = await client.post(
        "/v1/routing/backtests",
        json={"from": "2031-07-01", "to": "2031-08-01", "ruleset_version": "nope"},
        headers=bearer(ADMIN),
    )
    assert unknown.status_code == 404
    path = tmp_path / "draft.yaml"
    path.write_text(yaml.safe_dump(draft))
    shown = _cli(infra, "--from", "2031-07-01", "--to", "2031-08-01", "--ruleset", str(path))
    assert shown.returncode == 0, shown.stderr
    assert "12 leads, 12 routed otherwise" in shown.stdout
    assert "unassigned" in shown.stdout


async def test_activation_can_require_a_recent_backtest_and_its_audit_entry_names_it(
    sessions: SessionFactory, ws: Workspace, infra: Infra
) -> None:
    app = create_app(
        infra.settings(), router_settings=RouterSettings(activation_needs_backtest_days=7)
    )
    version = f"gated-{ws.tag}"
    source = yaml.safe_dump({**ws.ruleset.model_dump(mode="json"), "version": version})
    async with sessions() as session:
        was = await session.scalar(text("SELECT version FROM router.rulesets WHERE active"))
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://router", timeout=30
        ) as client:
            auth = bearer(ADMIN)
            uploaded = await client.post(
                "/v1/rulesets",
                content=source,
                headers={**auth, "content-type": "application/yaml"},
            )
            assert uploaded.status_code == 201, uploaded.text
            refused = await client.post(f"/v1/rulesets/{version}/activate", headers=auth)
            assert refused.status_code == 409
            assert "no backtest of" in refused.json()["detail"]
            run = await client.post(
                "/v1/routing/backtests",
                json={"ruleset_version": version, "from": "2031-11-01", "to": "2031-12-01"},
                headers=auth,
            )
            assert run.status_code == 202, run.text
            backtest_id = run.json()["backtest_id"]
            queued = await client.post(f"/v1/rulesets/{version}/activate", headers=auth)
            assert queued.status_code == 409  # not until it has run
            await wait_done(client, backtest_id)
            activated = await client.post(f"/v1/rulesets/{version}/activate", headers=auth)
            assert activated.status_code == 200, activated.text
            assert activated.json() == {"active": version, "backtest": backtest_id}
        async with sessions() as session:
            after = await session.scalar(
                text(
                    "SELECT after FROM access.audit_log WHERE action = 'ruleset.activated'"
                    " AND entity_id = :v"
                ),
                {"v": version},
            )
        assert after["backtest"] == backtest_id
    finally:
        await lifespan.__aexit__(None, None, None)
        async with sessions() as session, session.begin():  # the shared database as it was
            await session.execute(
                text("UPDATE router.rulesets SET active = coalesce(version = :was, false)"),
                {"was": was},
            )
