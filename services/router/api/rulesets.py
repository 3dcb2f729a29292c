"""Rule sets (ops token): upload → validate → store; activate; read; and the dry run
``POST /v1/routing/simulate`` (decision and trace, nothing stored, no event)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from services.router import service, store
from services.router.domain.model import Lead
from services.router.domain.names import personal_domain, registrable_domain
from services.router.schemas import SimulateIn
from services.router.service import routed_event
from shared import audit
from shared.credentials import AdminCaller, ReadCaller
from shared.events.envelope import utcnow
from shared.events.leads import LeadReceived
from shared.events.routing import LeadRouted
from shared.problems import Problem, problem
from shared.service import runtime_of

router = APIRouter(prefix="/v1", tags=["rule sets"])

Version = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]
_TEXT_TYPES = {
    "application/yaml",
    "application/x-yaml",
    "text/yaml",
    "application/json",
    "text/plain",
}


class RuleSetOut(BaseModel):
    version: str
    active: bool
    created_at: datetime | None
    activated_at: datetime | None
    body: dict[str, Any]


def ruleset_problem(error: ValidationError | ValueError) -> Problem:
    if isinstance(error, ValidationError):
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "reason": e["msg"]}
            for e in error.errors()
        ]
    else:
        errors = [{"field": "body", "reason": str(error)}]
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
    return Problem(422, f"The rule set is not valid: {detail}", errors=errors)


@router.post(
    "/rulesets",
    summary="Upload a rule set (YAML or JSON); validated and stored inactive",
    status_code=201,
    openapi_extra={
        "requestBody": {"content": {"application/yaml": {"schema": {"type": "string"}}}}
    },
    responses={
        200: {
            "description": "The same rule set was stored before (same version, same rules)",
            "content": {"application/json": {}},
        },
        400: problem("The body is not UTF-8 text"),
        409: problem("A rule set with this version exists with other rules"),
        415: problem("Not YAML or JSON"),
    },
)
async def upload_ruleset(request: Request, caller: AdminCaller) -> JSONResponse:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type not in _TEXT_TYPES:
        raise Problem(
            415,
            "Send the rule set as YAML or JSON.",
            errors=[
                {"field": "body", "reason": f"unsupported content type {content_type or 'none'}"}
            ],
        )
    try:
        source = (await request.body()).decode()
    except UnicodeDecodeError:
        raise Problem(
            400, "The body is not UTF-8 text.", errors=[{"field": "body", "reason": "not UTF-8"}]
        ) from None
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        try:
            parsed, created = await store.save_ruleset(session, source)
        except (ValidationError, ValueError) as error:
            if isinstance(error, ValueError) and "exists with other rules" in str(error):
                raise Problem(
                    409, str(error), errors=[{"field": "version", "reason": str(error)}]
                ) from None
            raise ruleset_problem(error) from None
        if created:
            await audit.record(
                session,
                caller,
                service=runtime.name,
                action="ruleset.created",
                entity_type="ruleset",
                entity_id=parsed.version,
                before=None,
                after={"version": parsed.version, "rules": [r.name for r in parsed.rules]},
            )
    return JSONResponse(
        {"version": parsed.version, "created": created, "rules": len(parsed.rules)},
        status_code=201 if created else 200,
    )


@router.get("/rulesets", summary="Stored rule sets, oldest first")
async def list_rulesets(request: Request, _caller: ReadCaller) -> list[RuleSetOut]:
    async with runtime_of(request).sessions() as session:
        rows = await store.list_rulesets(session)
    return [
        RuleSetOut(
            version=r.version,
            active=r.active,
            created_at=r.created_at,
            activated_at=r.activated_at,
            body=r.body,
        )
        for r in rows
    ]


@router.get(
    "/rulesets/active", summary="The rule set in force (the bundled default if none activated)"
)
async def active_ruleset(request: Request, _caller: ReadCaller) -> dict[str, Any]:
    async with runtime_of(request).sessions() as session:
        return (await store.active_ruleset(session)).model_dump(mode="json")


@router.post(
    "/rulesets/{version}/activate",
    summary="Make a stored rule set the one in force",
    responses={
        404: problem("No stored rule set with this version"),
        409: problem("ROUTER_ACTIVATION_NEEDS_BACKTEST_DAYS is set and no recent backtest"),
    },
)
async def activate_ruleset(
    version: Version, request: Request, caller: AdminCaller
) -> dict[str, str | None]:
    runtime = runtime_of(request)
    needs: float | None = request.app.state.router_settings.activation_needs_backtest_days
    async with runtime.sessions() as session, session.begin():
        was = (await store.active_ruleset(session)).version
        backtest = None
        if needs is not None:
            since = utcnow() - timedelta(days=needs)
            backtest = await store.recent_backtest(session, version, since)
            if backtest is None and await store.ruleset(session, version) is not None:
                reason = (
                    f"no backtest of {version} in the last {needs:g} days: run "
                    f'POST /v1/routing/backtests {{"ruleset_version": "{version}", ...}} first'
                )
                raise Problem(409, reason, errors=[{"field": "version", "reason": reason}])
        if not await store.activate_ruleset(session, version, utcnow()):
            raise Problem(404, f"No rule set {version}; upload it first.")
        await audit.record(
            session,
            caller,
            service=runtime.name,
            action="ruleset.activated",
            entity_type="ruleset",
            entity_id=version,
            before={"active": was},
            after={"active": version, "backtest": str(backtest.id) if backtest else None},
        )
    return {"active": version, "backtest": str(backtest.id) if backtest else None}


class SimulateOut(BaseModel):
    decision: LeadRouted
    stored: bool = False


@router.post(
    "/routing/simulate",
    summary="Dry run: route a sample lead; nothing stored, no event",
    responses={404: problem("No stored rule set with the version asked for")},
)
async def simulate(body: SimulateIn, request: Request, _caller: ReadCaller) -> SimulateOut:
    sample = body.lead
    received_at = sample.received_at or utcnow()
    if received_at.tzinfo is None:
        raise Problem(
            422,
            "lead.received_at needs a time zone.",
            errors=[{"field": "lead.received_at", "reason": "no time zone"}],
        )
    domain = registrable_domain(sample.email_domain)
    lead = Lead(
        lead_id=sample.lead_id,
        email_domain=domain,
        free_mail=sample.free_mail or personal_domain(domain) is not None,
        received_at=received_at,
        company=sample.company,
        country=sample.country.upper() if sample.country else None,
        region=sample.region,
        state=sample.state,
    )
    async with runtime_of(request).sessions() as session:
        if body.ruleset_version is None:
            ruleset = await store.active_ruleset(session)
        else:
            found = await store.ruleset(session, body.ruleset_version)
            if found is None:
                raise Problem(
                    404,
                    f"No rule set {body.ruleset_version}.",
                    errors=[{"field": "ruleset_version", "reason": "unknown"}],
                )
            ruleset = found
        decision = await service.simulate(session, lead, ruleset)
        await session.rollback()  # a dry run: nothing it read is changed
    received = LeadReceived(
        lead_id=lead.lead_id,
        received_at=received_at,
        channel="simulation",
        source="simulate",
        email=f"sample@{domain}",
        email_domain=domain,
        free_mail=lead.free_mail,
        company=lead.company,
        country=lead.country,
    )
    return SimulateOut(
        decision=routed_event(received, decision, 0, decided_at=utcnow(), reason="simulated")
    )
