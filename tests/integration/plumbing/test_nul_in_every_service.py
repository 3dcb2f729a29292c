"""The shared NUL guard is installed in every service: credit (built in process with its
real lifespan, on the session's database and broker) refuses a NUL in a partner's
dispute comment and in ops' resolution comment with a 422 naming ``comment``, and writes
nothing. (Both were 500s: PostgreSQL JSONB cannot hold U+0000.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import text

from services.credit.app import create_app
from shared.db import SessionFactory
from tests.support.credentials import ADMIN
from tests.support.infra import Infra

TOKEN = ADMIN


@pytest.fixture
async def credit(infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(infra.settings())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://credit") as client:
            yield client


async def _rows(sessions: SessionFactory) -> tuple[int, int]:
    async with sessions() as session:
        facts = await session.scalar(text("SELECT count(*) FROM credit.facts"))
        events = await session.scalar(text("SELECT count(*) FROM credit.outbox"))
    return int(facts or 0), int(events or 0)


@pytest.mark.parametrize(
    ("path", "body", "token"),
    [
        ("/v1/partner/credits/{lead}/disputes", {"comment": "not ours\u0000"}, "lf_firm_x"),
        (
            "/v1/leads/{lead}/credit/resolution",
            {"verdict": "upheld", "comment": "checked \u0000 the call log"},
            TOKEN,
        ),
    ],
)
async def test_a_nul_in_a_credit_comment_is_a_422_naming_it_and_writes_nothing(
    credit: httpx.AsyncClient,
    sessions: SessionFactory,
    path: str,
    body: dict[str, str],
    token: str,
) -> None:
    before = await _rows(sessions)
    refused = await credit.post(
        path.format(lead=uuid4()), json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"] == [{"field": "comment", "reason": "contains a NUL character"}]
    assert await _rows(sessions) == before
