"""Intake in process (its real lifespan: relay to the real broker) against the session's
real PostgreSQL, with an ops token and helpers to make firms and keys."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from shared.db import SessionFactory
from tests.support.credentials import ADMIN
from tests.support.infra import Infra

TOKEN = ADMIN
WEBHOOK_SECRETS = {
    "mautic": "whsec_" + "bmV3LXNlY3JldC1mb3ItdGVzdHMtMTIzNDU2Nzg5MA==",
    "mautic_old": "whsec_" + "b2xkLXNlY3JldC1mb3ItdGVzdHMtMDk4NzY1NDMyMQ==",
}


@dataclass
class Intake:
    client: httpx.AsyncClient
    ops: dict[str, str]
    bootstrap: str
    sessions: SessionFactory

    async def firm_with_key(self) -> tuple[str, dict[str, str]]:
        firm_id = f"firm-{secrets.token_hex(4)}"
        made = await self.client.post(
            "/v1/firms", json={"firm_id": firm_id, "name": firm_id.title()}, headers=self.ops
        )
        assert made.status_code == 201, made.text
        key = await self.client.post(f"/v1/firms/{firm_id}/keys", headers=self.ops)
        assert key.status_code == 201, key.text
        return firm_id, {"Authorization": f"Bearer {key.json()['token']}"}


def intake_settings(**overrides: object) -> IntakeSettings:
    values: dict[str, object] = {
        "webhook_secrets": (
            '{{"mautic": "{},{}"}}'.format(WEBHOOK_SECRETS["mautic"], WEBHOOK_SECRETS["mautic_old"])
        ),
        "partner_rate_per_s": 1000,
        "partner_burst": 1000,
        "form_rate_per_min": 6000,
        "form_burst": 1000,
    }
    values.update(overrides)
    return IntakeSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def intake(infra: Infra) -> AsyncIterator[Intake]:
    async with running_intake(infra) as running:
        yield running


def running_intake(infra: Infra, database_url: str | None = None, **overrides: object) -> _Running:
    """Intake in process; ``overrides`` are intake settings (``INTAKE_*``)."""
    return _Running(infra, database_url, overrides)


class _Running:
    def __init__(
        self, infra: Infra, database_url: str | None, overrides: dict[str, object]
    ) -> None:
        self.infra = infra
        self.database_url = database_url or infra.database_url
        self.overrides = overrides

    async def __aenter__(self) -> Intake:
        settings = self.infra.settings(database_url=self.database_url)
        self.app = create_app(settings, intake_settings(**self.overrides))
        self.lifespan = self.app.router.lifespan_context(self.app)
        await self.lifespan.__aenter__()
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=("203.0.113.7", 5555)),
            base_url="http://intake",
            timeout=30,
        )
        return Intake(
            self.client,
            {"Authorization": f"Bearer {TOKEN}"},
            self.infra.bootstrap_servers,
            self.app.state.runtime.sessions,
        )

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
        await self.lifespan.__aexit__(None, None, None)
