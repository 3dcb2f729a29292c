"""Ops' entrypoint: ``leadflow serve ops`` (uvicorn factory ``create_app``).

It consumes every topic into its event log and serves the stream, the timelines, the
reports, and the dashboard (static files at ``/``); it sends the outbound webhooks and
the notifications to people."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from services.ops.aggregates import CachedPerKey, build_dashboard, lag_reader
from services.ops.api import audit, backtests, leads, notifications, reports, stream, webhooks
from services.ops.consumer import GROUP, TOPIC_NAMES, keep_all
from services.ops.live import NewEvents
from services.ops.notifier import Notifier
from services.ops.settings import OpsSettings, get_ops_settings
from services.ops.tables import SCHEMA
from services.ops.webhook_sender import WebhookSender
from shared.db import asyncpg_dsn
from shared.service import ConsumerSpec, Runtime, create_service
from shared.settings import Settings, get_settings

STATIC = Path(__file__).parent / "static"


def _consumers(_runtime: Runtime) -> Sequence[ConsumerSpec]:
    # The event log is unique by event id: it is ops' record of what it has processed.
    return [
        ConsumerSpec(name=GROUP, topics=TOPIC_NAMES, handle=keep_all, types=None, keeps_once=True)
    ]


def create_app(
    settings: Settings | None = None, ops_settings: OpsSettings | None = None
) -> FastAPI:
    settings = settings or get_settings()
    own = ops_settings or get_ops_settings()
    new_events = NewEvents(asyncpg_dsn(settings.database_url or ""))

    async def on_start(runtime: Runtime) -> None:
        # Both stop with the service: their loops watch runtime.stop.
        app.state.listener = asyncio.create_task(new_events.listen(runtime.stop))
        lag = lag_reader(settings, own.lag_cache_s)
        app.state.dashboard = CachedPerKey(
            lambda board: build_dashboard(runtime.sessions, lag, board), own.dashboard_cache_s
        )
        sender = WebhookSender(runtime.sessions, own, new_events, runtime.outbox)
        app.state.webhooks = asyncio.create_task(sender.run(runtime.stop))
        notifier = Notifier(runtime.sessions, own, new_events)
        app.state.notifier = asyncio.create_task(notifier.run(runtime.stop))

    app = create_service(
        name="ops",
        schema=SCHEMA,
        title="Leadflow ops",
        description="Every event, kept once: the live event stream (Server-Sent Events), "
        "each lead's timeline across services, the dashboard's aggregates, the funnel "
        "report, outbound webhooks (Standard Webhooks signatures, retries for a day, a "
        "delivery log), and notifications to owners, managers and ops by email and Slack. "
        "The dashboard itself is at `/`.",
        routers=[
            leads.router,
            stream.router,
            reports.router,
            audit.router,
            webhooks.router,
            notifications.router,
            backtests.router,
        ],
        consumers=_consumers,
        on_start=on_start,
        settings=settings,
    )
    app.state.ops_settings = own
    app.state.new_events = new_events
    app.state.open_streams = stream.OpenStreams(
        limit=own.max_streams, per_firm_limit=own.max_streams_per_firm
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def dashboard_page() -> FileResponse:
        # The page holds no data: every number on it is fetched with the ops token.
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    return app
