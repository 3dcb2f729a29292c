"""Intake's entrypoint: ``leadflow serve intake`` (uvicorn factory ``create_app``)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial
from typing import cast

from fastapi import FastAPI
from starlette.middleware import Middleware

from services.intake.api import firms, forms, imports, leads, partner, sales, webhooks
from services.intake.consumer import HANDLERS
from services.intake.domain.normalize import registrable_domain
from services.intake.domain.ratelimit import TokenBuckets
from services.intake.edges.idempotency import IdempotencyKeys
from services.intake.edges.limits import PathBodyLimit
from services.intake.housekeeping import purge_forever
from services.intake.settings import IntakeSettings, get_intake_settings
from services.intake.store import SCHEMA
from services.intake.writer import LeadWriter
from shared.events.topics import FIRMS_CONTRACTS
from shared.http import BodySizeLimit, PlainRoute
from shared.service import ConsumerSpec, Runtime, create_service
from shared.settings import Settings, get_settings


def create_app(
    settings: Settings | None = None, intake_settings: IntakeSettings | None = None
) -> FastAPI:
    settings = settings or get_settings()
    own = intake_settings or get_intake_settings()

    async def on_start(runtime: Runtime) -> None:
        # Both stop with the service: their loops watch runtime.stop.
        app.state.housekeeping = asyncio.create_task(purge_forever(runtime, own))
        writer = LeadWriter(runtime.engine, runtime.outbox, window=app.state.dedup_window)
        app.state.lead_writer = writer
        app.state.lead_writing = asyncio.create_task(writer.run(runtime.stop))

    app = create_service(
        name="intake",
        schema=SCHEMA,
        title="Leadflow intake",
        description="The single point of entry for every lead and outside fact. Every error "
        "is `application/problem+json` (RFC 9457) naming the field and the reason. Any "
        "POST/PATCH may carry an `Idempotency-Key` header: a retry with the same key gets "
        "the same answer and has no second effect.",
        routers=[
            leads.router,
            sales.router,
            partner.router,
            forms.router,
            webhooks.router,
            imports.router,
            firms.router,
        ],
        consumers=lambda _: [
            ConsumerSpec.per_event(
                name="intake.contracts", topics=[FIRMS_CONTRACTS.name], handlers=HANDLERS
            )
        ],
        settings=settings,
        on_start=on_start,
        warm=(partial(registrable_domain, "example.com"),),  # the suffix list's trie
    )
    app.state.intake_settings = own
    app.state.import_jobs = set()
    app.state.dedup_window = timedelta(days=own.dedup_window_days)
    app.state.partner_buckets = TokenBuckets(own.partner_rate_per_s, own.partner_burst)
    app.state.form_buckets = TokenBuckets(own.form_rate_per_min / 60, own.form_burst)
    # The shared body limit, but larger for the streamed CSV upload; idempotency replay
    # sits inside it and the shared NUL guard (it buffers bodies already known to be
    # small enough and free of NUL).
    app.user_middleware = [
        Middleware(PathBodyLimit, settings.max_body_bytes, own.max_import_bytes)
        if cast(object, m.cls) is BodySizeLimit
        else m
        for m in app.user_middleware
    ]
    app.user_middleware.append(Middleware(IdempotencyKeys))
    # FastAPI declares POST /v1/leads (its OpenAPI operation); this plain route, ahead of
    # every other, serves it with the same endpoint, past FastAPI's per-request routing
    # (a sixth of the request's time).
    app.router.routes.insert(0, PlainRoute("/v1/leads", leads.post_lead, methods=["POST"]))
    return app
