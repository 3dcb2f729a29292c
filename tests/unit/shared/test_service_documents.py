"""What every service documents about itself, read from the four real apps built in
process (no database or broker: none of these pages touches them): the interactive
docs work offline (every script, style and icon they load comes from the service); the
OpenAPI document lists the error answers of every operation, each a problem document,
and ``/metrics`` as the Prometheus text format it is. (That the answers really given
are the ones listed is checked by fuzzing the running services:
``tests/integration/plumbing/test_fuzz_every_service.py``.)"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from services.credit.app import create_app as credit_app
from services.intake.app import create_app as intake_app
from services.ops.app import create_app as ops_app
from services.router.app import create_app as router_app
from shared.problems import PROBLEM_JSON
from shared.settings import Settings

SERVICES: dict[str, Callable[[Settings], FastAPI]] = {
    "intake": intake_app,
    "router": router_app,
    "credit": credit_app,
    "ops": ops_app,
}
# Never connected to: the pages below are served without the lifespan.
SETTINGS = Settings(database_url="postgresql://nobody:x@127.0.0.1:9/none", log_level="WARNING")


@pytest.fixture(params=sorted(SERVICES))
async def service(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    app = SERVICES[request.param](SETTINGS)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        yield client


class _References(HTMLParser):
    """Every URL a page makes the browser load: src/href attributes, ReDoc's spec-url and
    the spec URL handed to Swagger UI in the inline script."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._script = tag == "script"
        self.urls += [v for k, v in attrs if k in ("src", "href", "spec-url") and v]

    def handle_data(self, data: str) -> None:
        if self._script and "url:" in data:
            self.urls += [data.split("url:", 1)[1].split(",", 1)[0].strip().strip("'\"")]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_interactive_docs_load_only_from_the_service(
    service: httpx.AsyncClient, page: str
) -> None:
    answer = await service.get(page)
    assert answer.status_code == 200, answer.text
    assert "text/html" in answer.headers["content-type"]
    assert "http://" not in answer.text
    assert "https://" not in answer.text
    parser = _References()
    parser.feed(answer.text)
    scripts = [u for u in parser.urls if u.endswith(".js")]
    assert scripts, parser.urls  # the page does load its bundle
    assert "/openapi.json" in parser.urls
    for url in parser.urls:
        parts = urlsplit(url)
        assert not parts.scheme, url
        assert not parts.netloc, url
        assert url.startswith("/"), url
        loaded = await service.get(url)
        assert loaded.status_code == 200, (url, loaded.status_code)
        assert loaded.content, url


PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_operation_lists_its_error_answers_as_problem_documents(name: str) -> None:
    document = SERVICES[name](SETTINGS).openapi()
    assert document["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
        "instance",
    ]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            where = f"{name} {method.upper()} {path}"
            responses = operation["responses"]
            errors = {status for status in responses if status[0] in "45"}
            own = "operations" in operation.get("tags", [])
            expected = {"422"}  # validation and the NUL guard: any request
            if operation.get("security"):
                expected.add("401")
            if method in ("post", "put", "patch"):
                expected.add("413")
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                expected.add("400")  # a JSON body FastAPI cannot decode
            if not own:
                expected.add("503")
            if method == "get" and "{" in path and not own:
                expected.add("404")
            assert expected <= errors, (where, sorted(errors))
            for status in errors - ({"503"} if path == "/readyz" else set()):
                assert responses[status]["content"] == PROBLEM, (where, status)


@pytest.mark.parametrize("name", sorted(SERVICES))
async def test_metrics_are_documented_and_served_as_prometheus_text(name: str) -> None:
    app = SERVICES[name](SETTINGS)
    documented = app.openapi()["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(documented) == ["text/plain"]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        served = await client.get("/metrics")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/plain")
    assert "# TYPE " in served.text
