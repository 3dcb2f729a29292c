"""The shared NUL guard on a small app, no database: a NUL anywhere in a request is a 422
problem naming the field the route would name, before the route runs; a CSV upload is
passed through unread; anything else reaches the route with its body intact."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel

from shared.http import NulGuard
from shared.problems import install_problem_handlers

REACHED: list[str] = []


class Hours(BaseModel):
    closes: str


class Owner(BaseModel):
    name: str
    business_hours: Hours | None = None
    tags: list[str] = []


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(NulGuard)

    @app.get("/accounts/{account_id}")
    async def account(account_id: str, domain: str = "") -> dict[str, str]:
        REACHED.append(account_id)
        return {"account_id": account_id}

    @app.put("/owners/{owner_id}")
    async def owner(owner_id: str, body: Owner) -> dict[str, Any]:
        REACHED.append(owner_id)
        return body.model_dump()

    @app.post("/forms")
    async def form(request: Request) -> dict[str, str]:
        REACHED.append("form")
        return {k: str(v) for k, v in (await request.form()).items()}

    @app.post("/rulesets")
    async def ruleset(request: Request) -> dict[str, int]:
        REACHED.append("ruleset")
        return {"bytes": len(await request.body())}

    @app.post(
        "/imports",
        openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    )
    async def csv_import(request: Request) -> dict[str, bool]:
        REACHED.append("import")
        return {"nul": b"\x00" in await request.body()}

    return app


@pytest.fixture
async def client() -> Any:
    REACHED.clear()
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def _refused(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"] == [{"field": field, "reason": "contains a NUL character"}]
    assert REACHED == []  # the route never ran


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/accounts/a%00b", "account_id"),
        ("/accounts/x?domain=a%00b.com", "domain"),
        ("/accounts/x?other=1&domain=%00", "domain"),
        ("/accounts/x?a%00=1", "query"),
        ("/nowhere/a%00b", "path"),
    ],
)
async def test_a_nul_in_the_url_names_the_parameter(
    client: httpx.AsyncClient, url: str, field: str
) -> None:
    await _refused(await client.get(url), field)


async def test_a_nul_in_a_header_names_the_header(client: httpx.AsyncClient) -> None:
    await _refused(await client.get("/accounts/x", headers={"X-Tag": "a\x00b"}), "x-tag")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"name": "Ana\\u0000"}', "name"),
        ('{"name": "Ana", "business_hours": {"closes": "17:00\\u0000"}}', "business_hours.closes"),
        ('{"name": "Ana", "tags": ["ok", "b\\u0000d"]}', "tags.1"),
        ('{"name": "Ana", "k\\u0000ey": 1}', "k\x00ey"),
        ('"\\u0000"', "body"),
        ('{"name": "raw\x00byte"}', "name"),
        ('{"name": \x00 broken', "body"),
    ],
)
async def test_a_nul_in_a_json_body_names_the_member(
    client: httpx.AsyncClient, body: str, field: str
) -> None:
    answer = await client.put(
        "/owners/o1", content=body.encode(), headers={"Content-Type": "application/json"}
    )
    await _refused(answer, field)


async def test_a_nul_in_a_form_or_a_text_body_is_refused(client: httpx.AsyncClient) -> None:
    form = await client.post("/forms", content=b"email=a%40b.c&name=P%00t", headers=_FORM)
    await _refused(form, "name")
    yaml = await client.post(
        "/rulesets",
        content=b'version: x\ndescription: "a\\u0000b"\n',
        headers={"Content-Type": "application/yaml"},
    )
    await _refused(yaml, "body")


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def test_clean_requests_reach_the_route_with_their_body(client: httpx.AsyncClient) -> None:
    # An escaped backslash before "u0000" is text, not a NUL; "%00" outside a form is text.
    body = '{"name": "C:\\\\u0000 100%00", "business_hours": {"closes": "17:00"}}'
    answer = await client.put(
        "/owners/o1", content=body.encode(), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == "C:\\u0000 100%00"
    form = await client.post("/forms", content=b"name=100%25", headers=_FORM)
    assert form.json() == {"name": "100%"}
    assert REACHED == ["o1", "form"]


async def test_a_csv_upload_reaches_its_route_unread(client: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        yield b"email,name\n"
        yield b"a@b.com,P\x00t\n"

    answer = await client.post("/imports", content=chunks(), headers={"Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"nul": True}  # the importer refuses that row by its line
