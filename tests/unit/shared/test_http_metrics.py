"""Request metrics see the answer the client got: a body refused as too large is a 413 in
``leadflow_http_requests_total``, never a 500 (which pages) and never missing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import APIRouter, Request
from prometheus_client import REGISTRY

from shared.service import create_service
from shared.settings import Settings

MAX = 100
echo = APIRouter()


@echo.post("/echo")
async def post_echo(request: Request) -> dict[str, int]:
    return {"bytes": len(await request.body())}


def _count(status: str, route: str) -> float:
    labels = {"service": "metrics-test", "method": "POST", "route": route, "status": status}
    return REGISTRY.get_sample_value("leadflow_http_requests_total", labels) or 0.0


async def _chunks() -> AsyncIterator[bytes]:
    for _ in range(5):
        yield b"x" * 60


async def test_a_too_large_body_is_counted_as_413_whether_announced_or_streamed() -> None:
    app = create_service(
        name="metrics-test",
        schema="metrics_test",
        title="t",
        description="t",
        routers=[echo],
        settings=Settings(database_url="postgresql+asyncpg://u@127.0.0.1:1/x", max_body_bytes=MAX),
    )
    before = {
        (status, route): _count(status, route)
        for status in ("413", "500")
        for route in ("/echo", "unmatched")
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        announced = await client.post("/echo", content=b"x" * (MAX + 1))
        streamed = await client.post("/echo", content=_chunks())  # chunked: no length
        fits = await client.post("/echo", content=b"x" * MAX)
    assert (announced.status_code, streamed.status_code, fits.status_code) == (413, 413, 200)
    after = {key: _count(*key) for key in before}
    counted_413 = sum(after[k] - before[k] for k in before if k[0] == "413")
    counted_500 = sum(after[k] - before[k] for k in before if k[0] == "500")
    assert (counted_413, counted_500) == (2, 0)
