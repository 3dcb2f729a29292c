"""Ops' HTTP API in process on the real database and broker: bad query parameters are
refused as problem+json naming the field, never a 500."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from services.ops.app import create_app
from services.ops.settings import OpsSettings
from shared.auth import hash_token, new_token
from tests.support.infra import Infra

TOKEN = new_token()
OPS = {"Authorization": f"Bearer {TOKEN}"}


@contextlib.asynccontextmanager
async def running_ops(infra: Infra, **own: object) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        infra.settings(leadflow_ops_token_sha256=hash_token(TOKEN)), OpsSettings(**own)
    )
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ops", timeout=30
    )
    try:
        yield client
    finally:
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def ops(infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    async with running_ops(infra) as client:
        yield client


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
