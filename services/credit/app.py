"""Credit's entrypoint: ``leadflow serve credit`` (uvicorn factory ``create_app``)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from services.credit.api import credit, firms, partner, reports
from services.credit.consumer import handlers
from services.credit.store import SCHEMA
from shared.events.topics import (
    ACTIVITIES_LOGGED,
    FIRMS_KEYS,
    LEADS_RECEIVED,
    LEADS_ROUTED,
    LEADS_STATUS,
    MEETINGS_UPDATED,
)
from shared.service import ConsumerSpec, Runtime, create_service
from shared.settings import Settings

FACT_TOPICS = [
    LEADS_RECEIVED,
    LEADS_ROUTED,
    ACTIVITIES_LOGGED,
    MEETINGS_UPDATED,
    LEADS_STATUS,
    FIRMS_KEYS,
]


def _consumers(runtime: Runtime) -> Sequence[ConsumerSpec]:
    return [
        ConsumerSpec(
            name="credit.facts",
            topics=[t.name for t in FACT_TOPICS],
            handlers=handlers(runtime.outbox),
        )
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service(
        name="credit",
        schema=SCHEMA,
        title="Leadflow credit",
        description="Decides whether the outside firm gets credit, with reasons, and keeps "
        "the ledger.",
        routers=[
            credit.router,
            firms.router,
            partner.router,
            reports.ops_router,
            reports.partner_router,
        ],
        consumers=_consumers,
        settings=settings,
    )
