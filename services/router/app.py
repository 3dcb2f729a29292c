"""Router's entrypoint: ``leadflow serve router`` (uvicorn factory ``create_app``)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from fastapi import FastAPI

from services.router.api import routing
from services.router.consumer import on_lead_received
from services.router.store import SCHEMA
from shared.events.leads import LeadReceived
from shared.events.topics import LEADS_RECEIVED
from shared.service import ConsumerSpec, Runtime, create_service
from shared.settings import Settings


def _consumers(runtime: Runtime) -> Sequence[ConsumerSpec]:
    return [
        ConsumerSpec(
            name="router.leads",
            topics=[LEADS_RECEIVED.name],
            handlers={LeadReceived.event_type: partial(on_lead_received, outbox=runtime.outbox)},
        )
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service(
        name="router",
        schema=SCHEMA,
        title="Leadflow router",
        description="Matches leads to accounts and applies ownership rules, with a trace.",
        routers=[routing.router],
        consumers=_consumers,
        settings=settings,
    )
