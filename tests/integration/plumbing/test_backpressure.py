"""Outages at the edge: with the broker unreachable intake keeps accepting (the outbox
holds) up to a bounded backlog, then answers 503; with the database unreachable it
answers 503 and accepts nothing. Real PostgreSQL; the broker is a closed port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import func, select

from services.intake.app import create_app
from shared.db import SessionFactory, make_engine, make_sessions
from shared.embedded import free_port
from shared.plumbing_tables import outbox_table
from tests.support.credentials import ADMIN
from tests.support.infra import Infra, fresh_database

TOKEN = ADMIN


@asynccontextmanager
async def intake(infra: Infra, **overrides: object) -> AsyncIterator[httpx.AsyncClient]:
    settings = infra.settings(
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",  # nothing listens there
        kafka_request_timeout_s=1.0,
        **overrides,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://intake",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as client:
            yield client


def lead(n: int) -> dict[str, str]:
    return {"email": f"backlog{n}@initech.com", "source": "test"}


async def unsent(sessions: SessionFactory) -> int:
    async with sessions() as session:
        table = outbox_table("intake")
        return int(
            await session.scalar(
                select(func.count()).select_from(table).where(table.c.sent_at.is_(None))
            )
            or 0
        )


@pytest.fixture
def own_database(infra: Infra) -> Iterator[str]:
    with fresh_database(infra) as url:
        yield url


@pytest.fixture
async def own_sessions(own_database: str) -> AsyncIterator[SessionFactory]:
    engine = make_engine(own_database, pool_size=2)
    yield make_sessions(engine)
    await engine.dispose()


async def test_broker_down_accepts_into_the_outbox_then_pushes_back(
    infra: Infra, own_database: str, own_sessions: SessionFactory
) -> None:
    """Its own database: no running service's relay may publish these rows meanwhile."""
    async with intake(infra, database_url=own_database, outbox_max_backlog=3) as client:
        accepted = [await client.post("/v1/leads", json=lead(n)) for n in range(5)]
        assert [a.status_code for a in accepted] == [202] * 5
        assert await unsent(own_sessions) == 5  # held, not lost
        await asyncio.sleep(1.5)  # the backlog watcher's next look
        refused = await client.post("/v1/leads", json=lead(99))
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "10"
        assert refused.headers["content-type"] == "application/problem+json"
        assert await unsent(own_sessions) == 5  # the refused lead wrote nothing
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["broker"].startswith("unreachable")


async def test_database_down_answers_503_and_accepts_nothing(infra: Infra) -> None:
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    async with intake(infra, database_url=dead) as client:
        answer = await client.post("/v1/leads", json=lead(1))
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        assert "nothing was stored" in answer.json()["detail"]
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"].startswith("unreachable")
