"""The ops dashboard in a real browser: Playwright drives Debian's Chromium (headless)
against the running stack with demo traffic. The charts fill, a lead is found and its
timeline opens with the routing trace; a lead's URL opens its timeline directly, in the
pipeline's order; the filters narrow the charts and empty ones say why; a click on a
chart lists the leads behind it. Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, ViewportSize, sync_playwright

from services.ops.demo_traffic import start_demo_traffic
from services.stack import load_demo
from tests.support.infra import start_infra
from tests.support.stack import Stack, run_stack

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
CHARTS = ["flow", "rules", "owners", "credit", "funnel", "lag"]
VIEWPORT: ViewportSize = {"width": 1440, "height": 1800}


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
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.fail(
            f"Chromium is needed at {CHROMIUM} for the browser test (Debian: apt-get install "
            "chromium); it was not found."
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def page(browser: Browser) -> Page:
    return browser.new_page(viewport=VIEWPORT)


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
    page.wait_for_url(f"**/#/leads/{lead_id}")  # the timeline has a URL of its own
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


# --- a lead's URL, the filters, the click-through ---------------------------------------


@dataclass(frozen=True)
class FirmLeads:
    firm: str
    lead_ids: frozenset[str]


def _ok(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code < 300, answer.text
    return dict(answer.json())


def _until(what: str, check: Callable[[], bool], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"never true: {what}")


@pytest.fixture(scope="module")
def firm_leads(traffic: Stack) -> FirmLeads:
    """A firm of its own (key, default contract, an account assigned to it) and three
    inbound leads on its account, once ops has logged their routing and credit."""
    urls, auth = traffic.urls, traffic.auth
    firm = f"firm-{secrets.token_hex(3)}"
    domain = f"{firm}-prospect.com"
    _ok(
        httpx.post(f"{urls['intake']}/v1/firms", json={"firm_id": firm, "name": firm}, headers=auth)
    )
    _ok(httpx.put(f"{urls['credit']}/v1/firms/{firm}/contract", json={}, headers=auth))
    account = {
        "name": f"Prospect of {firm}",
        "domains": [domain],
        "owner_id": "own-lee",
        "firm": {"firm_id": firm, "starts_on": "2026-01-01"},
    }
    _ok(httpx.put(f"{urls['router']}/v1/accounts/acc-{firm}", json=account, headers=auth))
    ids = frozenset(
        str(
            _ok(
                httpx.post(
                    f"{urls['intake']}/v1/leads",
                    json={"email": f"{who}@{domain}", "name": who.title(), "campaign": firm},
                    headers=auth,
                )
            )["lead_id"]
        )
        for who in ("ana", "ben", "cy")
    )

    def logged(event: str) -> bool:
        listed = httpx.get(
            f"{urls['ops']}/v1/leads", params={"event": event, "firm": firm}, headers=auth
        )
        return listed.status_code == 200 and {h["lead_id"] for h in listed.json()["leads"]} == ids

    _until("ops logged the firm's routings", lambda: logged("routed"))
    _until("ops logged the firm's credit decisions", lambda: logged("credit"))
    return FirmLeads(firm, ids)


def chart_total(page: Page, chart: str) -> int:
    return int(
        page.evaluate(
            "id => Chart.getChart(id).data.datasets"
            ".reduce((sum, set) => sum + set.data.reduce((a, b) => a + b, 0), 0)",
            chart,
        )
    )


def wait_for_chart_total(page: Page, chart: str, total: int) -> None:
    page.wait_for_function(
        "([id, total]) => { const c = Chart.getChart(id); return c && c.data.datasets"
        ".reduce((sum, set) => sum + set.data.reduce((a, b) => a + b, 0), 0) === total; }",
        arg=[chart, total],
        timeout=30_000,
    )


def click_chart(page: Page, chart: str, dataset: int, index: int) -> int:
    """Click one bar or segment of a chart where Chart.js drew it; its value."""
    spot = page.evaluate(
        "([id, set, i]) => { const c = Chart.getChart(id); c.stop();"
        " const at = c.getDatasetMeta(set).data[i].getCenterPoint(true);"
        " return {x: at.x, y: at.y, value: c.data.datasets[set].data[i]}; }",
        [chart, dataset, index],
    )
    page.locator(f"#{chart}").click(position={"x": spot["x"], "y": spot["y"]})
    return int(spot["value"])


def listed(page: Page, expected_total: int, asked: str) -> set[str]:
    """The leads the list shows once it has its answer: as many as the chart said."""
    page.wait_for_function("asked => location.hash.includes(asked)", arg=asked)
    page.wait_for_selector(f'#leads-list[data-total="{expected_total}"]', timeout=30_000)
    ids = page.eval_on_selector_all("#leads-list li", "items => items.map(i => i.dataset.leadId)")
    return set(ids)


def test_a_lead_s_url_opens_its_timeline_in_the_pipeline_s_order(
    traffic: Stack, browser: Browser, firm_leads: FirmLeads
) -> None:
    lead_id = sorted(firm_leads.lead_ids)[0]
    told = _ok(httpx.get(f"{traffic.urls['ops']}/v1/leads/{lead_id}", headers=traffic.auth))
    by_type = {e["type"]: e for e in reversed(told["events"])}  # the first of each type
    routed, credit = by_type["leadflow.lead.routed.v1"], by_type["leadflow.credit.decided.v1"]
    # Credit dates revision 1 at the lead's receipt, before the routing it waited for.
    assert datetime.fromisoformat(credit["time"]) < datetime.fromisoformat(routed["time"])

    fresh = browser.new_context(viewport=VIEWPORT).new_page()  # nothing in its storage
    errors: list[str] = []
    fresh.on("pageerror", lambda error: errors.append(str(error)))
    fresh.goto(f"{traffic.urls['ops']}/?token={traffic.token}#/leads/{lead_id}")
    fresh.wait_for_selector('#timeline-events li[data-type="leadflow.credit.decided.v1"]')
    assert fresh.url.endswith(f"/#/leads/{lead_id}")
    assert "token=" not in fresh.url
    types = fresh.eval_on_selector_all(
        "#timeline-events > li", "items => items.map(i => i.dataset.type)"
    )
    assert types[:3] == [
        "leadflow.lead.received.v1",
        "leadflow.lead.routed.v1",
        "leadflow.credit.decided.v1",
    ], types
    first_credit = fresh.locator('#timeline-events > li[data-type="leadflow.credit.decided.v1"]')
    assert "as-of" in (first_credit.first.get_attribute("class") or "")
    assert "on routing revision 1" in (first_credit.first.text_content() or "")
    assert firm_leads.firm in (fresh.text_content("#timeline-header") or "")
    assert fresh.is_visible("#lead-panel")
    ARTIFACTS.mkdir(exist_ok=True)
    fresh.screenshot(path=str(ARTIFACTS / "lead-timeline.png"), full_page=True)

    fresh.reload()  # the URL alone (the token stays in the tab) opens it again
    fresh.wait_for_selector('#timeline-events li[data-type="leadflow.lead.routed.v1"]')
    fresh.goto(f"{traffic.urls['ops']}/#/leads/{uuid4()}")
    fresh.wait_for_selector("#lead-panel-said:has-text('No events about lead')")
    fresh.goto(f"{traffic.urls['ops']}/#/")
    fresh.wait_for_selector("#lead-panel", state="hidden")
    assert errors == []
    fresh.context.close()


def test_the_filters_narrow_the_charts_and_empty_ones_say_why(
    traffic: Stack, page: Page, firm_leads: FirmLeads
) -> None:
    page.goto(f"{traffic.urls['ops']}/?token={traffic.token}")
    page.wait_for_selector('#flow-panel[data-filled="true"]', timeout=60_000)
    everyone = chart_total(page, "flow")
    assert everyone > 3  # the demo traffic's leads and ours

    page.fill("#filter-firm", firm_leads.firm)
    page.click("#filter-apply")
    wait_for_chart_total(page, "flow", 3)
    assert f"firm={firm_leads.firm}" in page.url
    wait_for_chart_total(page, "owners", 3)
    labels = page.evaluate("Chart.getChart('credit').data.labels")
    assert labels
    assert all(label.startswith(firm_leads.firm) for label in labels)
    assert chart_total(page, "credit") == 3
    assert page.evaluate("Chart.getChart('funnel').data.labels") == [f"api · {firm_leads.firm}"]
    # the doughnut shows its numbers: each rule with its count and share
    rules = page.evaluate("Chart.getChart('rules').data.labels")
    assert rules
    assert all(re.fullmatch(r".+: \d+ \(\d+%\)", label) for label in rules), rules

    today = datetime.now(UTC).date().isoformat()
    page.fill("#filter-from", today)
    page.fill("#filter-to", today)
    page.click("#filter-apply")
    page.wait_for_function("Chart.getChart('flow').data.labels.length === 24")  # per hour
    wait_for_chart_total(page, "flow", 3)
    assert page.text_content("#flow-bucket") == "hour"
    assert page.text_content('#rules-panel [data-window="routing"]') == f"{today} UTC"
    page.screenshot(path=str(ARTIFACTS / "dashboard-filtered.png"), full_page=True)

    page.fill("#filter-from", "2020-01-01")
    page.fill("#filter-to", "2020-01-07")
    page.click("#filter-apply")
    page.wait_for_selector("#flow-why:visible")
    assert page.text_content("#flow-why") == (
        f"No leads received in this range (2020-01-01 to 2020-01-07 UTC) for firm "
        f"{firm_leads.firm}."
    )
    assert (page.text_content("#sla-why") or "").startswith("No SLA clock ran")
    assert page.is_visible("#credit-why")
    assert page.evaluate("Chart.getChart('flow').data.labels.length") == 7  # per day
    page.screenshot(path=str(ARTIFACTS / "dashboard-empty-range.png"), full_page=True)

    page.fill("#filter-owner", "own lee")  # not an owner id: the API's 422, said
    page.click("#filter-apply")
    page.wait_for_selector("#filter-error:visible")
    assert "owner" in (page.text_content("#filter-error") or "")
    page.click("#filter-clear")
    page.wait_for_function("!window.location.search")
    page.wait_for_selector("#filter-error", state="hidden")
    assert chart_total(page, "flow") > 3  # everyone's leads again


def test_clicking_a_chart_opens_the_leads_behind_it(
    traffic: Stack, page: Page, firm_leads: FirmLeads
) -> None:
    page.goto(f"{traffic.urls['ops']}/?token={traffic.token}&firm={firm_leads.firm}")
    wait_for_chart_total(page, "flow", 3)
    wait_for_chart_total(page, "credit", 3)

    # a doughnut segment: the leads its rule routed
    value = click_chart(page, "rules", 0, 0)
    assert value > 0
    assert listed(page, value, "event=routed") <= firm_leads.lead_ids
    assert page.evaluate("location.hash").startswith(f"#/leads?firm={firm_leads.firm}&")

    # a flow bar: that minute's leads of that channel
    bar = page.evaluate(
        "() => { const c = Chart.getChart('flow'); for (const [s, set] of c.data.datasets"
        ".entries()) { const i = set.data.findIndex(v => v > 0); if (i >= 0) return [s, i]; } }"
    )
    value = click_chart(page, "flow", bar[0], bar[1])
    assert 0 < value <= 3
    assert listed(page, value, "event=received&channel=") <= firm_leads.lead_ids

    # a credit bar's segment: the firm's leads whose latest decision is in that state
    value = click_chart(page, "credit", 0, 0)
    assert value > 0
    assert listed(page, value, "event=credit") <= firm_leads.lead_ids
    page.screenshot(path=str(ARTIFACTS / "chart-leads.png"), full_page=True)

    # and from the list, a lead's timeline
    chosen = page.eval_on_selector("#leads-list li", "item => item.dataset.leadId")
    page.click(f'#leads-list li[data-lead-id="{chosen}"] a')
    page.wait_for_url(f"**#/leads/{chosen}")
    page.wait_for_selector('#timeline-events li[data-type="leadflow.lead.routed.v1"]')


def test_a_burst_clips_the_flow_axis_and_is_labelled(traffic: Stack, page: Page) -> None:
    """The page draws the axis the API clips for a burst (``flow.axis_max``, unit-tested
    with the burst rule in domain/dashboard.py) and names the burst: the dashboard's
    answer is the stack's own, its flow replaced by ten minutes with a burst."""
    start = datetime(2026, 11, 20, 15, tzinfo=UTC)
    burst = {
        "bucket": "minute",
        "buckets": [(start + timedelta(minutes=i)).isoformat() for i in range(10)],
        "channels": [{"name": "api", "values": [12, 11, 12, 480, 10, 12, 13, 12, 11, 12]}],
        "axis_max": 15,
    }

    def with_a_burst(route: Route) -> None:
        answer = route.fetch()
        board = answer.json()
        board["flow"] = burst
        route.fulfill(response=answer, json=board)

    page.route("**/v1/dashboard*", with_a_burst)
    try:
        page.goto(f"{traffic.urls['ops']}/?token={traffic.token}")
        page.wait_for_function(
            "Chart.getChart('flow') && Chart.getChart('flow').scales.y.max === 15"
        )
        note = page.text_content("#flow-note") or ""
        assert "Axis clipped at 15" in note
        assert "480 at 15:03" in note
        assert page.evaluate("Chart.getChart('flow').data.datasets[0].data[3]") == 480  # true
        page.wait_for_timeout(500)  # the animation, for the screenshot
        page.screenshot(path=str(ARTIFACTS / "flow-burst.png"))
    finally:
        page.unroute("**/v1/dashboard*")


def test_a_finished_backtest_is_drawn_before_and_after(traffic: Stack, page: Page) -> None:
    """A draft that sends every lead to the unassigned queue, backtested over today on the
    router (a job, run by its child process): the dashboard lists it and draws each
    owner's leads before (the demo traffic's) and after (none)."""
    a_lead_of_our_own(traffic)  # at least one lead routed today
    today = datetime.now(UTC).date()
    version = f"browser-draft-{secrets.token_hex(3)}"
    draft = {"version": version, "rules": [{"kind": "unassigned"}]}
    queued = httpx.post(
        f"{traffic.urls['router']}/v1/routing/backtests",
        json={
            "ruleset": draft,
            "from": today.isoformat(),
            "to": (today + timedelta(days=1)).isoformat(),
        },
        headers=traffic.auth,
    )
    assert queued.status_code == 202, queued.text
    backtest_id = queued.json()["backtest_id"]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{traffic.urls['ops']}/?token={traffic.token}")
    item = page.wait_for_selector(
        f'#backtests-list li[data-backtest="{backtest_id}"]', timeout=90_000
    )
    assert item is not None
    assert version in (item.text_content() or "")
    item.click()
    said = page.text_content("#backtest-said") or ""
    assert "routed otherwise" in said
    before, after = page.evaluate(
        "() => Chart.getChart('backtest-chart').data.datasets"
        ".map(set => set.data.reduce((a, b) => a + b, 0))"
    )
    assert before > 0  # the owners' leads as routed
    assert after == 0  # the draft sends them all to the queue
    assert page.locator("#backtest-moves tbody tr").count() >= 1  # moved: rule -> unassigned
    page.wait_for_timeout(500)
    page.locator("#backtests-panel").screenshot(path=str(ARTIFACTS / "backtests.png"))
    assert errors == []
