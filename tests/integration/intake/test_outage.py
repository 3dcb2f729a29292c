"""With the database unreachable every channel answers 503 with Retry-After (a problem
document) and accepts nothing — never a 500, never accepted-then-lost."""

from __future__ import annotations

import httpx

from shared.embedded import free_port
from tests.integration.intake.conftest import running_intake
from tests.integration.intake.test_webhooks import signed
from tests.support.infra import Infra


async def test_every_channel_answers_503_when_the_database_is_down(infra: Infra) -> None:
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    async with running_intake(infra, database_url=dead) as intake:
        partner = {"Authorization": "Bearer lf_0123456789abcdef_secret"}
        body, signed_headers = signed({"type": "webinar.registered"})
        calls: list[tuple[str, str, dict[str, object]]] = [
            ("POST", "/v1/leads", {"json": {"email": "a@initech.com"}, "headers": intake.ops}),
            (
                "POST",
                "/v1/leads",
                {
                    "json": {"email": "a@initech.com"},
                    "headers": {**intake.ops, "Idempotency-Key": "k1"},
                },
            ),
            ("POST", "/v1/partner/leads", {"json": {"email": "a@initech.com"}, "headers": partner}),
            (
                "POST",
                "/v1/forms/demo/submissions",
                {"data": {"email": "a@initech.com"}, "headers": {"Origin": "https://x.example"}},
            ),
            ("POST", "/v1/webhooks/mautic", {"content": body, "headers": signed_headers}),
            ("POST", "/v1/imports", {"content": b"email\na@initech.com\n", "headers": intake.ops}),
            ("POST", "/v1/firms", {"json": {"firm_id": "f", "name": "F"}, "headers": intake.ops}),
        ]
        for method, path, kwargs in calls:
            answer: httpx.Response = await intake.client.request(method, path, **kwargs)  # type: ignore[arg-type]
            assert answer.status_code == 503, (path, answer.text)
            assert int(answer.headers["retry-after"]) > 0
            assert answer.headers["content-type"] == "application/problem+json"
