"""Ops' HTTP API in process on the real database and broker: bad query parameters are
refused as problem+json naming the field, never a 500; the dashboard's filters and the
lead list behind its charts answer; open streams stay under the limit; a partner's stream
ends when its key is revoked."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.ops.app import create_app
from services.ops.settings import OpsSettings
from shared import credentials
from shared.db import SessionFactory
from tests.support.credentials import READ
from tests.support.infra import Infra

TOKEN = READ
OPS = {"Authorization": f"Bearer {TOKEN}"}


@contextlib.asynccontextmanager
async def running_app(infra: Infra, own: OpsSettings | None = None) -> AsyncIterator[FastAPI]:
    app = create_app(infra.settings(), own or OpsSettings())
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        yield app
    finally:
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def ops(infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(infra) as app:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ops", timeout=30
        )
        async with client:
            yield client


@dataclass
class Stream:
    """One request to the event stream driven at the ASGI level (httpx's in-process
    transport waits for the whole body, which a stream never ends)."""

    task: asyncio.Task[None]
    started: asyncio.Event
    hang_up: asyncio.Event
    status: list[int] = field(default_factory=list)


def open_stream(app: FastAPI, token: str = TOKEN) -> Stream:
    started, hang_up = asyncio.Event(), asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            stream.status.append(message["status"])
            started.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/v1/events/stream",
        "raw_path": b"/v1/events/stream",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"ops"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("ops", 80),
    }
    stream = Stream(asyncio.create_task(app(scope, receive, send)), started, hang_up)
    return stream


async def _partner_key(sessions: SessionFactory, firm_id: str) -> credentials.Issued:
    async with sessions() as session, session.begin():
        return await credentials.issue(
            session, name="stream test", scopes=("partner",), created_by="tests", firm_id=firm_id
        )


async def _revoke(sessions: SessionFactory, key_id: str) -> None:
    async with sessions() as session, session.begin():
        assert await credentials.revoke(session, key_id, revoked_by="tests") == "revoked"


async def test_a_partner_stream_ends_when_its_key_is_revoked(
    infra: Infra, sessions: SessionFactory
) -> None:
    key = await _partner_key(sessions, "firm-revoked-stream")
    async with running_app(infra, OpsSettings(stream_poll_s=30)) as app:
        watching = open_stream(app, key.token)
        await asyncio.wait_for(watching.started.wait(), 20)
        assert watching.status == [200]
        await asyncio.sleep(0.5)
        assert not watching.task.done()  # a valid key's stream stays open
        await _revoke(sessions, key.key_id)
        # Without the check, the stream went on sending the firm's events for as long as
        # the client stayed connected; a quiet stream (nothing to send for 30 s) still
        # ends within a second of the revocation.
        await asyncio.wait_for(watching.task, 1.5)
        assert app.state.open_streams.count == 0
        refused = open_stream(app, key.token)
        await asyncio.wait_for(refused.task, 20)
        assert refused.status == [401]


async def test_a_burst_of_streams_gets_no_more_than_the_limit_and_slots_come_back(
    infra: Infra,
) -> None:
    async with running_app(infra, OpsSettings(max_streams=2)) as app:
        # All at once: the check and the count used to be apart (the count taken only
        # when the stream started), so every request of a burst passed the check.
        burst = [open_stream(app) for _ in range(6)]
        await asyncio.wait_for(asyncio.gather(*(s.started.wait() for s in burst)), 20)
        assert sorted(s.status[0] for s in burst) == [200, 200, 429, 429, 429, 429]
        for s in burst:
            s.hang_up.set()
        await asyncio.wait_for(asyncio.gather(*(s.task for s in burst)), 20)
        assert app.state.open_streams.count == 0
        again = open_stream(app)
        await asyncio.wait_for(again.started.wait(), 20)
        assert again.status == [200]
        again.hang_up.set()
        await asyncio.wait_for(again.task, 20)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        # a bound at the edge of the calendar: the default span overflowed (500)
        ("/v1/reports/funnel?to=0001-01-01", "to"),
        ("/v1/reports/funnel?from=0001-01-01T00:00:00%2B14:00&to=2026-01-02", "from"),
        # a time PostgreSQL cannot take (year 10000 in UTC) went to the database (500)
        ("/v1/reports/funnel?to=9999-12-31T23:59:59-14:00", "to"),
        ("/v1/reports/funnel?from=garbage", "from"),
        ("/v1/reports/funnel?from=2026-11-23T10:00:00&to=2026-11-24", "from"),
        # a NUL in the search text reached PostgreSQL (500)
        ("/v1/leads?q=ab%00cd", "q"),
        ("/v1/leads?q=%00%00", "q"),
        ("/v1/events/stream?last_event_id=abc", "last_event_id"),
        ("/v1/events/stream?type=%00", "type"),
        # the dashboard's filters
        ("/v1/dashboard?from=yesterday", "from"),
        ("/v1/dashboard?from=2026-11-20T10:00:00", "from"),
        ("/v1/dashboard?to=0001-01-01", "to"),
        ("/v1/dashboard?to=9999-12-31T23:59:59-14:00", "to"),
        ("/v1/dashboard?from=2026-11-21&to=2026-11-20", "from"),
        ("/v1/dashboard?from=2024-01-01&to=2026-01-01", "from"),
        ("/v1/dashboard?from=8999-01-01", "from"),  # after now, the open end
        ("/v1/dashboard?owner=own%20lee", "owner"),
        ("/v1/dashboard?firm=%00", "firm"),
        ("/v1/dashboard?firm=" + "f" * 101, "firm"),
        ("/v1/reports/funnel?owner=a/b", "owner"),
        # the lead list behind a chart
        ("/v1/leads?event=teleported", "event"),
        ("/v1/leads?rule=territory", "rule"),
        ("/v1/leads?event=routed&rule=%00", "rule"),
        ("/v1/leads?event=credit&state=paid", "state"),
        ("/v1/leads?state=credited", "state"),
        ("/v1/leads?channel=a%20b", "channel"),
        ("/v1/leads?campaign=%00", "campaign"),
        ("/v1/leads?from=2026-13-01", "from"),
        ("/v1/leads?owner=x&limit=0", "limit"),
    ],
)
async def test_bad_query_parameters_are_a_422_problem_naming_the_field(
    ops: httpx.AsyncClient, path: str, field: str
) -> None:
    refused = await ops.get(path, headers=OPS)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in refused.json()["errors"]] == [field]


async def test_a_funnel_far_in_the_future_but_inside_the_range_is_answered(
    ops: httpx.AsyncClient,
) -> None:
    answered = await ops.get("/v1/reports/funnel?from=8999-12-01&to=8999-12-31", headers=OPS)
    assert answered.status_code == 200, answered.text
    assert answered.json()["total"]["received"] == 0


async def test_one_partner_firm_cannot_take_every_stream(
    infra: Infra, sessions: SessionFactory
) -> None:
    key = await _partner_key(sessions, "firm-many-streams")
    async with running_app(infra, OpsSettings(max_streams=4, max_streams_per_firm=2)) as app:
        partner = [open_stream(app, key.token) for _ in range(4)]
        await asyncio.wait_for(asyncio.gather(*(s.started.wait() for s in partner)), 20)
        # Without a per-firm bound the firm held all four slots and ops got 429.
        assert sorted(s.status[0] for s in partner) == [200, 200, 429, 429]
        ops = [open_stream(app) for _ in range(2)]
        await asyncio.wait_for(asyncio.gather(*(s.started.wait() for s in ops)), 20)
        assert [s.status[0] for s in ops] == [200, 200]
        for s in partner + ops:
            s.hang_up.set()
        await asyncio.wait_for(asyncio.gather(*(s.task for s in partner + ops)), 20)
        assert (app.state.open_streams.count, app.state.open_streams.per_firm) == (0, {})


async def test_the_dashboard_answers_a_filter_with_its_windows_and_why_panels_are_empty(
    ops: httpx.AsyncClient,
) -> None:
    # A firm and a range nobody has: every panel empty, and each says why.
    answered = await ops.get(
        "/v1/dashboard",
        params={"from": "8999-11-01", "to": "8999-11-08", "firm": "nobody", "owner": "own-x"},
        headers=OPS,
    )
    assert answered.status_code == 200, answered.text
    board = answered.json()
    assert board["filter"] == {
        "from": "8999-11-01T00:00:00Z",
        "to": "8999-11-08T00:00:00Z",
        "owner": "own-x",
        "firm": "nobody",
    }
    assert {w["label"] for w in board["windows"].values()} == {"8999-11-01 to 8999-11-07 UTC"}
    assert (board["flow"]["bucket"], len(board["flow"]["buckets"])) == ("day", 7)
    assert board["empty"]["flow"] == (
        "No leads received in this range (8999-11-01 to 8999-11-07 UTC) for firm nobody, "
        "routed to own-x."
    )
    assert set(board["empty"]) >= {"flow", "rules", "owners", "sla", "credit", "funnel"}
    unfiltered = (await ops.get("/v1/dashboard", headers=OPS)).json()
    assert unfiltered["windows"]["flow"]["label"] == "last hour"
    assert unfiltered["filter"] == {"from": None, "to": None, "owner": None, "firm": None}
    assert len(unfiltered["flow"]["buckets"]) == 60


async def test_the_lead_list_without_a_search_text_and_the_funnel_by_firm(
    ops: httpx.AsyncClient,
) -> None:
    listed = await ops.get(
        "/v1/leads",
        params={"event": "credit", "state": "credited", "firm": "nobody", "from": "2026-01-01"},
        headers=OPS,
    )
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"q": None, "total": 0, "leads": []}
    funnel = await ops.get("/v1/reports/funnel", params={"firm": "nobody"}, headers=OPS)
    assert funnel.status_code == 200, funnel.text
    assert funnel.json()["total"]["received"] == 0
