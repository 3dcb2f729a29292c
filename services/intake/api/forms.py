"""``/v1/forms``: ops configures form keys; browsers (and plain HTML forms) post to
``/v1/forms/{form_key}/submissions`` — public, so the origin is checked, a honeypot field
and a per-IP rate limit keep bots out, and a browser can be redirected to a thank-you
page."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.datastructures import UploadFile

from services.intake.api.errors import INTAKE_ERRORS
from services.intake.api.lead_counts import count, count_registered, refusals_counted
from services.intake.domain.forms import FormConfig, is_bot, origin_allowed
from services.intake.domain.normalize import InvalidLead
from services.intake.domain.ratelimit import TokenBuckets, retry_after
from services.intake.forms import form_entry, get_form, put_form
from services.intake.writer import LeadWriter
from shared import audit
from shared.credentials import AdminCaller, ReadCaller
from shared.problems import Problem
from shared.service import runtime_of
from shared.tracing import current_trace_context

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
router = APIRouter(prefix="/v1/forms", tags=["web forms"], responses=INTAKE_ERRORS)
FormKey = Path(pattern=r"^[A-Za-z0-9_-]{1,100}$")
MAX_FIELDS = 50
FIELD_SCHEMA = {
    "type": "object",
    "properties": {
        name: {"type": "string", "maxLength": 500}
        for name in ("email", "name", "company", "title", "phone", "country", "website")
    },
    "required": ["email"],
}


@router.put("/{form_key}", summary="Configure a form key (ops)")
async def configure_form(
    body: FormConfig, request: Request, caller: AdminCaller, form_key: str = FormKey
) -> FormConfig:
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        before = await get_form(session, form_key)
        await put_form(session, form_key, body)
        await audit.record(
            session,
            caller,
            service=runtime.name,
            action="form.put",
            entity_type="form",
            entity_id=form_key,
            before=before,
            after=body,
        )
    return body


@router.get("/{form_key}", summary="A form key's configuration (ops)")
async def read_form(request: Request, _caller: ReadCaller, form_key: str = FormKey) -> FormConfig:
    return await _form(request, form_key)


async def _form(request: Request, form_key: str) -> FormConfig:
    async with runtime_of(request).sessions() as session:
        config = await get_form(session, form_key)
    if config is None:
        raise Problem(404, f"No form {form_key}.")
    return config


def _cors(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


async def _allowed_form(request: Request, form_key: str) -> tuple[FormConfig, str]:
    config = await _form(request, form_key)
    origin = request.headers.get("origin")
    if not origin_allowed(config, origin) or origin is None:
        raise Problem(
            403,
            "This form may not be posted from that page.",
            errors=[{"field": "Origin", "reason": f"{origin or 'missing'} is not allowed"}],
        )
    return config, origin


@router.options(
    "/{form_key}/submissions",
    status_code=204,
    summary="CORS preflight for a form post",
    responses={403: {"description": "Origin not allowed", **PROBLEM}},
)
async def preflight(request: Request, form_key: str = FormKey) -> Response:
    _, origin = await _allowed_form(request, form_key)
    headers = {
        **_cors(origin),
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Content-Type, Idempotency-Key",
        "Access-Control-Max-Age": "600",
    }
    return Response(status_code=204, headers=headers)


async def _fields(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise Problem(
                422, "The body is not JSON.", errors=[{"field": "body", "reason": "not JSON"}]
            ) from None
        if not isinstance(body, dict):
            raise Problem(
                422,
                "The body must be a JSON object.",
                errors=[{"field": "body", "reason": "not an object"}],
            )
        return body
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form(max_files=0, max_fields=MAX_FIELDS)
        return {k: v for k, v in form.items() if not isinstance(v, UploadFile)}
    raise Problem(
        415,
        "Send application/json or application/x-www-form-urlencoded.",
        errors=[
            {"field": "Content-Type", "reason": f"{content_type or 'missing'} is not accepted"}
        ],
    )


@router.post(
    "/{form_key}/submissions",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a web form (public)",
    description="JSON or a plain HTML form post. The page's Origin must be one the form "
    "allows. A post that fills the honeypot field is answered like any other and ignored. "
    "A form post (not JSON) to a form with a thank-you URL is answered 303 to it.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": FIELD_SCHEMA},
                "application/x-www-form-urlencoded": {"schema": FIELD_SCHEMA},
            },
        }
    },
    responses={
        303: {"description": "Redirect to the form's thank-you page"},
        403: {"description": "Origin not allowed", **PROBLEM},
        415: {"description": "Unsupported body type", **PROBLEM},
        429: {"description": "Too many posts from this address (Retry-After)", **PROBLEM},
    },
)
async def submit(request: Request, form_key: str = FormKey) -> Response:
    with refusals_counted("web_form"):
        config, origin = await _allowed_form(request, form_key)
        buckets: TokenBuckets = request.app.state.form_buckets
        client = request.client.host if request.client else "-"
        wait = buckets.take(client, time.monotonic())
        if wait:
            raise Problem(
                429,
                "Too many form posts from this address; retry later.",
                headers={"Retry-After": retry_after(wait), **_cors(origin)},
            )
        fields = await _fields(request)
        if is_bot(config, fields):
            count("web_form", "spam")
        else:
            try:
                entry = form_entry(form_key, config, fields, trace=current_trace_context())
            except InvalidLead as exc:
                raise Problem(
                    422,
                    str(exc),
                    errors=[{"field": e.field, "reason": e.reason} for e in exc.errors],
                    headers=_cors(origin),
                ) from exc
            writer: LeadWriter = request.app.state.lead_writer
            registered = await writer.register(entry)
            count_registered("web_form", duplicate=registered.duplicate)
    is_json = request.headers.get("content-type", "").startswith("application/json")
    if config.redirect_url is not None and not is_json:
        return RedirectResponse(str(config.redirect_url), status_code=303, headers=_cors(origin))
    return JSONResponse({"received": True}, status_code=202, headers=_cors(origin))
