"""Router's entrypoint: ``leadflow serve router`` (uvicorn factory ``create_app``)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from fastapi import FastAPI

from services.router.api import admin, routing, rulesets
from services.router.consumer import on_lead_received, on_lead_status_changed
from services.router.tables import SCHEMA
from shared.events.leads import LeadReceived
from shared.events.status import LeadStatusChanged
from shared.events.topics import LEADS_RECEIVED, LEADS_STATUS
from shared.service import ConsumerSpec, Runtime, create_service
from shared.settings import Settings


def _consumers(runtime: Runtime) -> Sequence[ConsumerSpec]:
    return [
        ConsumerSpec(
            name="router.leads",
            topics=[LEADS_RECEIVED.name],
            handlers={LeadReceived.event_type: partial(on_lead_received, outbox=runtime.outbox)},
        ),
        ConsumerSpec(
            name="router.status",
            topics=[LEADS_STATUS.name],
            handlers={
                LeadStatusChanged.event_type: partial(on_lead_status_changed, outbox=runtime.outbox)
            },
        ),
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service(
        name="router",
        schema=SCHEMA,
        title="Leadflow router",
        description="Matches leads to accounts and applies ownership rules, with a trace.",
        routers=[routing.router, admin.router, rulesets.router],
        consumers=_consumers,
        settings=settings,
    )
