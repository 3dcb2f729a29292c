"""Credit's entrypoint: ``leadflow serve credit`` (uvicorn factory ``create_app``)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from fastapi import FastAPI

from services.credit.api import credit
from services.credit.consumer import on_lead_routed
from services.credit.store import SCHEMA
from shared.events.routing import LeadRouted
from shared.events.topics import LEADS_ROUTED
from shared.service import ConsumerSpec, Runtime, create_service
from shared.settings import Settings


def _consumers(runtime: Runtime) -> Sequence[ConsumerSpec]:
    return [
        ConsumerSpec(
            name="credit.routing",
            topics=[LEADS_ROUTED.name],
            handlers={LeadRouted.event_type: partial(on_lead_routed, outbox=runtime.outbox)},
        )
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service(
        name="credit",
        schema=SCHEMA,
        title="Leadflow credit",
        description="Decides whether the outside firm gets credit, with reasons.",
        routers=[credit.router],
        consumers=_consumers,
        settings=settings,
    )
