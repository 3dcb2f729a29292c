"""The ops dashboard in a real browser: Playwright drives Debian's Chromium (headless)
against the running stack with demo traffic. The charts fill, a lead is found and its
timeline opens with the routing trace, and a screenshot is kept in test-artifacts/."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from services.ops.demo_traffic import start_demo_traffic
from services.stack import load_demo
from tests.support.infra import start_infra
from tests.support.stack import Stack, run_stack

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
CHARTS = ["flow", "rules", "owners", "credit", "funnel", "lag"]


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own (the demo traffic changes the demo team's SLA and fills its
    round robin, which the session's other tests must not see), with demo traffic."""
    with (
        start_infra(tmp_path_factory.mktemp("browser-infra")) as infra,
        run_stack(infra, tmp_path_factory.mktemp("browser-logs")) as stack,
    ):
        asyncio.run(load_demo(stack.infra.database_url))
        thread, stop = start_demo_traffic(stack.urls, stack.token, per_minute=60)
        try:
            yield stack
        finally:
            stop.set()
            thread.join(15)


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.fail(
            f"Chromium is needed at {CHROMIUM} for the browser test (Debian: apt-get install "
            "chromium); it was not found."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser.new_page(viewport={"width": 1440, "height": 1800})
        finally:
            browser.close()


def a_lead_of_our_own(stack: Stack) -> tuple[str, str]:
    """A lead sent through intake, once ops has logged its routing decision."""
    email = f"browser.{secrets.token_hex(3)}@initech.com"
    body = {"email": email, "name": "Bo Wser", "company": "Initech", "campaign": "browser"}
    answer = httpx.post(f"{stack.urls['intake']}/v1/leads", json=body, headers=stack.auth)
    answer.raise_for_status()
    lead_id = str(answer.json()["lead_id"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = httpx.get(f"{stack.urls['ops']}/v1/leads/{lead_id}", headers=stack.auth)
        if got.status_code == 200 and any(
            e["type"] == "leadflow.lead.routed.v1" for e in got.json()["events"]
        ):
            return email, lead_id
        time.sleep(0.3)
    raise AssertionError(f"ops never logged the routing of {lead_id}")


def test_dashboard_fills_finds_a_lead_and_shows_its_timeline(traffic: Stack, page: Page) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{traffic.urls['ops']}/?token={traffic.token}")
    assert "token=" not in page.url  # taken into the tab's storage, out of the address bar

    for chart in CHARTS:
        page.wait_for_selector(f'#{chart}-panel[data-filled="true"]', timeout=120_000)
    drawn = page.evaluate(
        "ids => ids.map(id => Chart.getChart(id).data.datasets"
        ".reduce((sum, set) => sum + set.data.reduce((a, b) => a + b, 0), 0))",
        CHARTS[:-1],
    )
    assert all(total > 0 for total in drawn), dict(zip(CHARTS, drawn, strict=False))
    page.wait_for_selector("#events li", timeout=30_000)  # the live stream arrives
    assert page.text_content("#status") == "live"
    assert page.locator("#funnel-table tbody tr").count() >= 2  # a row and the total

    email, lead_id = a_lead_of_our_own(traffic)
    page.fill("#search-input", email)
    page.click("#search-form button")
    page.click(f'#search-results li[data-lead-id="{lead_id}"]')
    routed = page.wait_for_selector(
        '#timeline-events li[data-type="leadflow.lead.routed.v1"]', timeout=30_000
    )
    assert routed is not None
    assert "Routed" in (routed.text_content() or "")
    assert routed.query_selector("ul li") is not None  # the trace, rule by rule
    header = page.text_content("#timeline-header") or ""
    assert email in header
    assert "Initech" in header
    page.wait_for_timeout(500)  # let the charts finish their animation

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    assert errors == []


def test_without_a_token_the_page_asks_for_one(traffic: Stack, page: Page) -> None:
    page.evaluate("sessionStorage.clear()")
    page.goto(f"{traffic.urls['ops']}/")
    page.wait_for_selector("#token-dialog[open]")
    page.fill("#token-input", "lf_ops_wrong")
    page.click("#token-form button")
    page.wait_for_selector("#token-error:has-text('not accepted')")
    page.fill("#token-input", traffic.token)
    page.click("#token-form button")
    page.wait_for_selector('#flow-panel[data-filled="true"]', timeout=60_000)
