"""Demo traffic is quiet when healthy: a lead router has not routed yet (its stage API
answers 404) is asked about again later without a word; a lead never routed, or a real
failure, is a warning; nothing is said once the traffic is being stopped. Router is a
stand-in HTTP answer here (httpx.MockTransport): this is the client's own logic."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
from structlog.testing import capture_logs

from services.ops.demo_traffic import RETRY_S, ROUTING_PATIENCE_S, DemoTraffic

LEAD = "6c3a3d0e-4a0b-4a57-9b59-0c1f7cb4b2a1"


def _traffic(answers: Callable[[httpx.Request], httpx.Response]) -> DemoTraffic:
    traffic = DemoTraffic(
        {"intake": "http://intake.test", "router": "http://router.test"}, "tok", 12, seed=7
    )
    traffic._client = httpx.Client(transport=httpx.MockTransport(answers))
    return traffic


def _stage_answers(*statuses: int) -> tuple[Callable[[httpx.Request], httpx.Response], list[str]]:
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path.endswith("/stage"):
            status = statuses[min(len(asked), len(statuses)) - 1]
            return httpx.Response(status, json={"title": "x"})
        return httpx.Response(200, json={})

    return answer, asked


def _run_due(traffic: DemoTraffic) -> None:
    """Run what is scheduled now (whatever its time), as the loop would once it is due."""
    due, traffic._follow_ups = traffic._follow_ups, []
    for follow_up in due:
        traffic._attempt(follow_up.act, follow_up.tries)


def test_a_lead_not_routed_yet_is_retried_quietly() -> None:
    answers, asked = _stage_answers(404, 404, 200)
    traffic = _traffic(answers)
    with capture_logs() as logs:
        traffic._attempt(lambda: traffic._decide(LEAD, "a@initech.com", False))
        assert [f.tries for f in traffic._follow_ups] == [2]  # again, RETRY_S later
        _run_due(traffic)
        assert [f.tries for f in traffic._follow_ups] == [3]
        _run_due(traffic)  # routed now: the answer goes in
    assert [p for p in asked if p.endswith("/stage")] == [f"/v1/leads/{LEAD}/stage"] * 3
    assert [log for log in logs if log["log_level"] == "warning"] == []


def test_a_lead_never_routed_is_one_warning() -> None:
    answers, _ = _stage_answers(404)
    traffic = _traffic(answers)
    with capture_logs() as logs:
        traffic._attempt(lambda: traffic._stage(LEAD, "accepted"))
        for _ in range(ROUTING_PATIENCE_S // RETRY_S + 1):
            _run_due(traffic)
    warnings = [log for log in logs if log["log_level"] == "warning"]
    assert [w["event"] for w in warnings] == ["demo_lead_not_routed"]
    assert warnings[0]["lead_id"] == LEAD


def test_a_real_failure_is_a_warning_but_not_while_stopping() -> None:
    answers, _ = _stage_answers(500)
    traffic = _traffic(answers)
    with capture_logs() as logs:
        traffic._attempt(lambda: traffic._stage(LEAD, "accepted"))
    assert [log["event"] for log in logs] == ["demo_traffic_failed"]

    stopping = threading.Event()
    stopping.set()
    traffic._stop = stopping
    with capture_logs() as logs:
        traffic._attempt(lambda: traffic._stage(LEAD, "accepted"))
    assert logs == []
