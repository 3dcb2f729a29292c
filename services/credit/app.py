"""Credit's entrypoint: ``leadflow serve credit`` (uvicorn factory ``create_app``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

from fastapi import FastAPI

from services.credit import backtest_jobs
from services.credit.api import backtests, credit, firms, partner, reports
from services.credit.consumer import TYPES, handler
from services.credit.store import SCHEMA
from services.credit.sweep import SWEEP_EVERY_S, run_sweep
from shared.calendar import supported_countries
from shared.events.topics import (
    ACTIVITIES_LOGGED,
    LEADS_RECEIVED,
    LEADS_RECEIVED_BULK,
    LEADS_ROUTED,
    LEADS_ROUTED_BULK,
    LEADS_STATUS,
    MEETINGS_UPDATED,
)
from shared.service import ConsumerSpec, Runtime, create_service
from shared.settings import Settings
from shared.times import SYSTEM_CLOCK, Clock

FACT_TOPICS = [
    LEADS_RECEIVED,
    LEADS_RECEIVED_BULK,
    LEADS_ROUTED,
    LEADS_ROUTED_BULK,
    ACTIVITIES_LOGGED,
    MEETINGS_UPDATED,
    LEADS_STATUS,
]


def _consumers(runtime: Runtime) -> Sequence[ConsumerSpec]:
    return [
        ConsumerSpec(
            name="credit.facts",
            topics=[t.name for t in FACT_TOPICS],
            handle=handler(runtime.outbox),
            types=TYPES,
        )
    ]


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = SYSTEM_CLOCK,
    sweep_every_s: float = SWEEP_EVERY_S,
) -> FastAPI:
    app = create_service(
        name="credit",
        schema=SCHEMA,
        title="Leadflow credit",
        description="Decides whether the outside firm gets credit, with reasons, and keeps "
        "the ledger; backtests draft terms over a firm's past leads.",
        routers=[
            credit.router,
            firms.router,
            backtests.router,
            partner.router,
            reports.ops_router,
            reports.partner_router,
        ],
        consumers=_consumers,
        warm=(supported_countries,),  # every country's holiday rules, before the first fact
        settings=settings,
    )
    service_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """The service's own lifespan, with the review sweep inside it: started once the
        database is up, stopped before it is closed."""
        async with service_lifespan(app):
            runtime: Runtime = app.state.runtime
            sweep = asyncio.create_task(
                run_sweep(
                    runtime.sessions,
                    runtime.outbox,
                    runtime.stop,
                    clock=clock,
                    every_s=sweep_every_s,
                ),
                name="credit-sweep",
            )
            jobs = backtest_jobs.runner(runtime.sessions, runtime.settings.database_url or "")
            runner = asyncio.create_task(jobs.run(runtime.stop), name="credit-backtests")
            try:
                yield
            finally:
                runtime.stop.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.gather(sweep, runner), 15)

    app.router.lifespan_context = lifespan
    return app
