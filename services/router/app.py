"""Router's entrypoint: ``leadflow serve router`` (uvicorn factory ``create_app``).

Beside the shared service machinery (relay, consumers) the router runs its SLA timer
worker, started after and stopped before them. ``clock`` is the router's notion of now
(routing time, SLA timers, stage changes): UTC now in production, driven by tests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from functools import partial

from fastapi import FastAPI

from services.router import backtest_jobs
from services.router.api import admin, backtests, lifecycle, routing, rulesets
from services.router.consumer import on_lead_status_changed, on_leads_received, on_meeting_updated
from services.router.domain.names import registrable_domain
from services.router.settings import RouterSettings, get_router_settings
from services.router.sla_timers import SlaTimers
from services.router.tables import SCHEMA
from shared.calendar import supported_countries
from shared.events.activities import MeetingUpdated
from shared.events.leads import LeadReceived
from shared.events.status import LeadStatusChanged
from shared.events.topics import (
    LEADS_RECEIVED,
    LEADS_RECEIVED_BULK,
    LEADS_STATUS,
    MEETINGS_UPDATED,
)
from shared.service import ConsumerSpec, Runtime, create_service
from shared.settings import Settings
from shared.times import SYSTEM_CLOCK, Clock

SLA_TICK_S = 2.0  # the timer worker's longest sleep
# The suffix list's trie and every country's holiday rules, loaded before the first lead.
WARM_CACHES = (partial(registrable_domain, "example.com"), supported_countries)


def _consumers(runtime: Runtime, clock: Clock) -> Sequence[ConsumerSpec]:
    outbox = runtime.outbox
    return [
        ConsumerSpec(
            name="router.leads",
            topics=[LEADS_RECEIVED.name, LEADS_RECEIVED_BULK.name],
            handle=partial(on_leads_received, outbox=outbox, clock=clock),
            types=frozenset({LeadReceived.event_type}),
        ),
        ConsumerSpec.per_event(
            name="router.status",
            topics=[LEADS_STATUS.name],
            handlers={
                LeadStatusChanged.event_type: partial(
                    on_lead_status_changed, outbox=outbox, clock=clock
                )
            },
        ),
        ConsumerSpec.per_event(
            name="router.meetings",
            topics=[MEETINGS_UPDATED.name],
            handlers={MeetingUpdated.event_type: partial(on_meeting_updated, clock=clock)},
        ),
    ]


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = SYSTEM_CLOCK,
    sla_tick_s: float = SLA_TICK_S,
    router_settings: RouterSettings | None = None,
) -> FastAPI:
    app = create_service(
        name="router",
        schema=SCHEMA,
        title="Leadflow router",
        description="Matches leads to accounts and applies ownership rules, with a trace; "
        "keeps each lead's lifecycle and its acceptance SLA.",
        routers=[routing.router, lifecycle.router, admin.router, rulesets.router, backtests.router],
        consumers=partial(_consumers, clock=clock),
        warm=WARM_CACHES,
        settings=settings,
    )
    app.state.clock = clock
    app.state.router_settings = router_settings or get_router_settings()
    service_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_lifespan(app):
            runtime: Runtime = app.state.runtime
            stop = asyncio.Event()
            timers = SlaTimers(runtime.sessions, runtime.outbox, clock, tick_s=sla_tick_s)
            runner = backtest_jobs.runner(runtime.sessions, runtime.settings.database_url or "")
            workers = {
                asyncio.create_task(timers.run(stop), name="router-sla-timers"),
                asyncio.create_task(runner.run(stop), name="router-backtests"),
            }
            try:
                yield
            finally:
                stop.set()
                await asyncio.wait(workers, timeout=15)
                for worker in workers:
                    worker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker

    app.router.lifespan_context = lifespan
    return app
