"""``/v1/webhooks/{source}``: signed marketing-automation webhooks (Standard Webhooks),
and ``/v1/webhook-sources/{source}``: ops sets how a source's payloads map. Signing
secrets are configuration (INTAKE_WEBHOOK_SECRETS), never stored in the database."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from services.intake.api.errors import INTAKE_ERRORS
from services.intake.api.lead_counts import count_webhook, refusals_counted
from services.intake.domain.mapping import SourceMapping
from services.intake.domain.signatures import SignatureError, SignedHeaders, verify
from services.intake.settings import IntakeSettings
from services.intake.webhooks import get_mapping, put_mapping, receive_webhook
from shared import audit
from shared.credentials import AdminCaller, ReadCaller
from shared.problems import PROBLEM_JSON, Problem
from shared.service import runtime_of

router = APIRouter(tags=["webhooks"], responses=INTAKE_ERRORS)
Source = Path(pattern=r"^[a-z0-9_-]{1,100}$")


@router.put("/v1/webhook-sources/{source}", summary="Set a source's payload mapping (ops)")
async def configure_source(
    body: SourceMapping, request: Request, caller: AdminCaller, source: str = Source
) -> SourceMapping:
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        before = await get_mapping(session, source)
        await put_mapping(session, source, body)
        await audit.record(
            session,
            caller,
            service=runtime.name,
            action="webhook_source.put",
            entity_type="webhook_source",
            entity_id=source,
            before=before,
            after=body,
        )
    return body


@router.get("/v1/webhook-sources/{source}", summary="A source's payload mapping (ops)")
async def read_source(request: Request, _caller: ReadCaller, source: str = Source) -> SourceMapping:
    async with runtime_of(request).sessions() as session:
        mapping = await get_mapping(session, source)
    if mapping is None:
        raise Problem(404, f"No mapping for source {source}.")
    return mapping


@router.post(
    "/v1/webhooks/{source}",
    summary="Receive a signed webhook",
    description="Verified per Standard Webhooks (`webhook-id`, `webhook-timestamp`, "
    "`webhook-signature`: HMAC-SHA256 with any of the source's current secrets, 5-minute "
    "tolerance). A replayed `webhook-id` is answered with the first answer "
    "(`Webhook-Replayed: true`) and not applied again. The payload is mapped by the "
    "source's mapping into a lead, an MQL update or a firm's activity.",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}
    },
    responses={
        200: {"description": "Applied, replayed or ignored (an unmapped event type)"},
        401: {"description": "Signature not valid", "content": {PROBLEM_JSON: {}}},
    },
)
async def receive(request: Request, source: str = Source) -> JSONResponse:
    with refusals_counted("webhook"):
        own: IntakeSettings = request.app.state.intake_settings
        secrets = own.secrets_of(source)
        if not secrets:
            raise Problem(404, f"No webhook source {source}.")
        body = await request.body()
        headers = SignedHeaders(
            webhook_id=request.headers.get("webhook-id", ""),
            timestamp=request.headers.get("webhook-timestamp", ""),
            signature=request.headers.get("webhook-signature", ""),
        )
        try:
            verify(secrets, headers, body, time.time(), own.webhook_tolerance_s)
        except (SignatureError, ValueError) as exc:
            raise Problem(
                401,
                f"The webhook is not verified: {exc}",
                errors=[{"field": "webhook-signature", "reason": str(exc)}],
            ) from exc
        if len(headers.webhook_id) > 200:
            raise Problem(
                422,
                "webhook-id is too long.",
                errors=[{"field": "webhook-id", "reason": "over 200 characters"}],
            )
        try:
            payload: Any = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Problem(
                422, "The body is not JSON.", errors=[{"field": "body", "reason": "not JSON"}]
            ) from None
        runtime = runtime_of(request)
        async with runtime.sessions() as session:
            mapping = await get_mapping(session, source)
        if mapping is None:
            raise Problem(404, f"No mapping for source {source}; ops sets it first.")
        async with runtime.sessions() as session:
            answer = await receive_webhook(
                session,
                runtime.outbox,
                source=source,
                webhook_id=headers.webhook_id,
                mapping=mapping,
                payload=payload,
                window=request.app.state.dedup_window,
            )
    count_webhook(answer.status, answer.body, replayed=answer.replayed)
    media = PROBLEM_JSON if answer.status >= 400 else "application/json"
    extra = {"Webhook-Replayed": "true"} if answer.replayed else {}
    return JSONResponse(answer.body, status_code=answer.status, media_type=media, headers=extra)
