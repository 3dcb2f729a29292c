"""CSV bulk load into the real database (streamed, per-row errors by line) and rule
sets stored as immutable versions."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest

from services.router import service, store, workspace
from services.router.bulk import AccountLoader, owner_ids
from services.router.domain.ruleset import default_ruleset
from shared.db import SessionFactory
from tests.integration.router.conftest import OUTBOX, Workspace, received


async def _load(sessions: SessionFactory, text: str, chunk: int = 7) -> object:
    async with sessions() as session:
        conn = await session.connection()
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        loader = AccountLoader(raw, await owner_ids(raw), batch_size=2)
        data = text.encode()
        for i in range(0, len(data), chunk):  # tiny chunks: lines and characters split
            await loader.feed(data[i : i + chunk])
        report = await loader.finish()
        await session.commit()
    return report


async def test_good_rows_go_in_and_bad_rows_are_reported_by_line(
    sessions: SessionFactory, ws: Workspace
) -> None:
    t = ws.tag
    csv_text = (
        "id,name,domains,owner_id,customer,country,employees,firm_id,firm_starts_on\r\n"
        f'b1-{t},"Zürich Widgets, AG","zw-{t}.ch;mail.zw-{t}.ch",{ws.id("ana")},no,CH,120,,\r\n'
        f"b2-{t},Second {t},second-{t}.com,nobody-{t},false,US,,,\n"
        f'b3-{t},"Multi\nLine {t}",multi-{t}.com,,true,US,5000,firm-{t},2026-01-01\n'
        f"b4-{t},Bad Date,bad-{t}.com,,false,US,10,firm-{t},2026-13-01\n"
        f"b5-{t},Too,Few\n"
        f"b6-{t},Fine {t},fine-{t}.com,,,,,,\n"
        f"b7-{t},Nul\x00 {t},nul-{t}.com,,,,,,\n"
        f"b8-{t},Huge {t},huge-{t}.com,,,US,99999999999,,\n"
    )
    report = await _load(sessions, csv_text)
    assert (report.rows, report.loaded, report.failed) == (8, 3, 5)  # type: ignore[attr-defined]
    errors = {(e.line, e.field) for e in report.errors}  # type: ignore[attr-defined]
    assert errors == {
        (3, "owner_id"),
        (6, "firm_starts_on"),
        (7, "row"),
        (9, "row"),
        (10, "employees"),
    }
    async with sessions() as session:
        first = await workspace.get_account(session, f"b1-{t}")
        multi = await workspace.get_account(session, f"b3-{t}")
    assert first is not None
    assert first.domains == [f"zw-{t}.ch"]  # subdomain folded, duplicates dropped
    assert first.name == "Zürich Widgets, AG"
    assert multi is not None
    assert multi.customer
    assert multi.firm is not None
    assert multi.firm.firm_id == f"firm-{t}"


async def test_loading_again_updates_in_place(sessions: SessionFactory, ws: Workspace) -> None:
    t = ws.tag
    await _load(sessions, f"id,name,employees\nu-{t},Before,1\n")
    report = await _load(sessions, f"id,name,employees\nu-{t},After,2\nu-{t},Last,3\n")
    assert report.loaded == 1  # type: ignore[attr-defined]
    # The same id again in a later batch of the same load (batches of 2, one transaction)
    rows = f"u-{t},Again,4\nv-{t},V,1\nw-{t},W,1\nu-{t},Last,3\n"
    report = await _load(sessions, f"id,name,employees\n{rows}")
    assert (report.loaded, report.failed) == (4, 0)  # type: ignore[attr-defined]
    async with sessions() as session:
        account = await workspace.get_account(session, f"u-{t}")
    assert account is not None
    assert (account.name, account.employees) == ("Last", 3)


async def test_a_bad_header_loads_nothing(sessions: SessionFactory) -> None:
    with pytest.raises(ValueError, match="unknown columns"):
        await _load(sessions, "id,name,colour\nx,y,z\n")


async def test_rule_set_versions_are_immutable(sessions: SessionFactory) -> None:
    version = f"it-{secrets.token_hex(4)}"
    source = default_ruleset().model_copy(update={"version": version}).model_dump_json()
    async with sessions() as session, session.begin():
        _, created = await store.save_ruleset(session, source)
        assert created
    async with sessions() as session, session.begin():
        _, created = await store.save_ruleset(session, source)
        assert not created  # the same body again is fine
    changed = source.replace('"threshold":90.0', '"threshold":95.0')
    assert changed != source
    async with sessions() as session, session.begin():
        with pytest.raises(ValueError, match="exists with other rules"):
            await store.save_ruleset(session, changed)
    async with sessions() as session:
        stored = await store.ruleset(session, version)
    assert stored is not None
    assert stored.version == version


async def test_an_activated_rule_set_is_used_and_named_by_new_decisions(
    sessions: SessionFactory, ws: Workspace
) -> None:
    """Activates a copy of the default rules under a new version (same behaviour, so the
    other tests sharing this database are not affected)."""
    version = f"act-{ws.tag}"
    source = default_ruleset().model_copy(update={"version": version}).model_dump_json()
    async with sessions() as session, session.begin():
        await store.save_ruleset(session, source)
        assert await store.activate_ruleset(session, version, datetime.now(UTC))
        assert not await store.activate_ruleset(session, f"missing-{ws.tag}", datetime.now(UTC))
    lead = received(ws.domain("acme"))
    async with sessions() as session, session.begin():
        assert (await store.active_ruleset(session)).version == version
        await service.route_new_lead(session, OUTBOX, lead)  # no rule set given: the active one
    async with sessions() as session:
        decision = await store.latest_decision(session, lead.lead_id)
        actives = [r.version for r in await store.list_rulesets(session) if r.active]
    assert decision is not None
    assert decision.ruleset_version == version
    assert decision.event["ruleset_version"] == version
    assert actives == [version]  # exactly one rule set in force
