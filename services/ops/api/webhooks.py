"""``/v1/webhook-subscriptions``: subscriptions to events by type, delivered to a URL and signed per
Standard Webhooks, with the delivery log and redelivery. Ops (admin scope) subscribes to
any event, optionally of one firm; a partner firm's key subscribes to its own firm's
events only, exactly what its event stream shows, and sees only its own subscriptions
(another firm's is 404, like a missing one). The signing secret is shown once, at
creation. Every change is in the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, Field

from services.ops import webhook_store
from services.ops.api.auth import Subscriber, SubscriberCaller
from services.ops.domain.stream_filter import FilterError, NotYours, stream_filter
from services.ops.domain.webhooks import TargetRefused, check_target, new_secret
from services.ops.settings import OpsSettings
from services.ops.webhook_store import Subscription
from shared import audit
from shared.events.envelope import utcnow
from shared.problems import PROBLEM_RESPONSES, Problem, problems
from shared.service import runtime_of

router = APIRouter(
    prefix="/v1/webhook-subscriptions",
    tags=["webhooks"],
    responses={**PROBLEM_RESPONSES, **problems(403)},
)


class WebhookIn(BaseModel):
    url: str = Field(
        max_length=2000,
        description="Where deliveries are POSTed: https to a public address in production.",
        examples=["https://hooks.example.com/leadflow"],
    )
    types: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list,
        max_length=20,
        description="Event types or prefixes, as the event stream's `type` filter "
        "(`leadflow.lead.routed.v1`, `leadflow.credit`); none: every event the caller may see.",
    )
    firm: str | None = Field(
        default=None,
        max_length=100,
        description="Ops only: one firm's events. A partner key always gets its own firm's.",
    )
    description: str | None = Field(default=None, max_length=200)


class WebhookOut(BaseModel):
    id: UUID
    url: str
    description: str | None
    types: list[str]
    firm_id: str | None = Field(description="The firm whose events it receives; None: every firm")
    owner: Literal["ops", "firm"]
    active: bool
    position: int = Field(
        description="The event-log position (the stream's `seq`) up to which its matching "
        "events are queued: at creation, the last event logged before it"
    )
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None
    created_by: str
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="The signing secret (Standard Webhooks `whsec_...`): shown only now; "
        "verify each delivery's `webhook-signature` with it."
    )


class AttemptOut(BaseModel):
    attempted_at: datetime
    ok: bool
    status_code: int | None
    error: str | None
    latency_ms: int


class DeliveryOut(BaseModel):
    id: int
    event_id: UUID = Field(description="Also the `webhook-id` header: the same on every attempt")
    seq: int
    type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    delivered_at: datetime | None
    created_at: datetime
    log: list[AttemptOut]


class DeliveryPage(BaseModel):
    deliveries: list[DeliveryOut]
    next_before_id: int | None  # pass as before_id for the next (older) page


class Redelivery(BaseModel):
    delivery_id: int
    status: Literal["pending"]


def _out(subscription: Subscription) -> WebhookOut:
    return WebhookOut(
        id=subscription.id,
        url=subscription.url,
        description=subscription.description,
        types=subscription.types,
        firm_id=subscription.owner_firm_id or subscription.firm_id,
        owner="firm" if subscription.owner_firm_id is not None else "ops",
        active=subscription.disabled_at is None,
        position=subscription.after_seq,
        failing_since=subscription.failing_since,
        disabled_at=subscription.disabled_at,
        disabled_reason=subscription.disabled_reason,
        created_by=subscription.created_by,
        created_at=subscription.created_at,
    )


def _invalid(field: str, reason: str) -> Problem:
    return Problem(422, f"{field}: {reason}", errors=[{"field": field, "reason": reason}])


def _settings(request: Request) -> OpsSettings:
    settings: OpsSettings = request.app.state.ops_settings
    return settings


@router.post("", status_code=status.HTTP_201_CREATED, summary="Subscribe a URL to events")
async def create_webhook(
    body: WebhookIn, request: Request, subscriber: SubscriberCaller
) -> WebhookCreated:
    allow = _settings(request).webhook_allow_private_targets
    try:
        url = check_target(body.url.strip(), allow_private=allow)
    except TargetRefused as exc:
        raise _invalid("url", str(exc)) from exc
    try:
        stream_filter(
            types=body.types, firm=body.firm, account=None, viewer_firm=subscriber.firm_id
        )
    except FilterError as exc:
        raise _invalid(exc.field if exc.field != "type" else "types", exc.reason) from exc
    except NotYours as exc:
        raise Problem(
            403,
            "A partner key subscribes to its own firm's events only.",
            errors=[{"field": "firm", "reason": "not this key's firm"}],
        ) from exc
    secret = new_secret()
    async with runtime_of(request).sessions() as session, session.begin():
        made = await webhook_store.create_subscription(
            session,
            subscription_id=uuid4(),
            url=url,
            description=body.description,
            types=body.types,
            owner_firm_id=subscriber.firm_id,
            firm_id=body.firm if subscriber.firm_id is None else None,
            secret=secret,
            created_by=subscriber.caller.actor,
        )
        out = _out(made)
        await audit.record(
            session,
            subscriber.caller,
            service="ops",
            action="webhook.created",
            entity_type="webhook",
            entity_id=str(made.id),
            before=None,
            after=out,
        )
    return WebhookCreated(**out.model_dump(), secret=secret)


@router.get("", summary="The caller's webhook subscriptions")
async def list_webhooks(request: Request, subscriber: SubscriberCaller) -> list[WebhookOut]:
    async with runtime_of(request).sessions() as session:
        found = await webhook_store.subscriptions(session, subscriber.firm_id)
    return [_out(s) for s in found]


async def _own(request: Request, subscriber: Subscriber, webhook_id: UUID) -> Subscription:
    async with runtime_of(request).sessions() as session:
        found = await webhook_store.get_subscription(session, webhook_id, subscriber.firm_id)
    if found is None:
        raise Problem(404, f"No webhook {webhook_id}.")
    return found


@router.get("/{webhook_id}", summary="A webhook subscription")
async def read_webhook(
    webhook_id: UUID, request: Request, subscriber: SubscriberCaller
) -> WebhookOut:
    return _out(await _own(request, subscriber, webhook_id))


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a subscription with its delivery log",
)
async def delete_webhook(
    webhook_id: UUID, request: Request, subscriber: SubscriberCaller
) -> Response:
    async with runtime_of(request).sessions() as session, session.begin():
        found = await webhook_store.get_subscription(
            session, webhook_id, subscriber.firm_id, for_update=True
        )
        if found is None:
            raise Problem(404, f"No webhook {webhook_id}.")
        await webhook_store.delete_subscription(session, webhook_id)
        await audit.record(
            session,
            subscriber.caller,
            service="ops",
            action="webhook.deleted",
            entity_type="webhook",
            entity_id=str(webhook_id),
            before=_out(found),
            after=None,
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{webhook_id}/enable",
    summary="Enable a disabled subscription again",
    description="It goes on from where it stopped: the events logged while it was disabled "
    "are delivered too. Its failure clock restarts.",
)
async def enable_webhook(
    webhook_id: UUID, request: Request, subscriber: SubscriberCaller
) -> WebhookOut:
    async with runtime_of(request).sessions() as session, session.begin():
        found = await webhook_store.get_subscription(
            session, webhook_id, subscriber.firm_id, for_update=True
        )
        if found is None:
            raise Problem(404, f"No webhook {webhook_id}.")
        await webhook_store.set_enabled(session, webhook_id)
        enabled = await webhook_store.get_subscription(session, webhook_id, subscriber.firm_id)
        assert enabled is not None  # locked above
        await audit.record(
            session,
            subscriber.caller,
            service="ops",
            action="webhook.enabled",
            entity_type="webhook",
            entity_id=str(webhook_id),
            before=_out(found),
            after=_out(enabled),
        )
    return _out(enabled)


@router.get("/{webhook_id}/deliveries", summary="The delivery log, newest first")
async def read_deliveries(
    webhook_id: UUID,
    request: Request,
    subscriber: SubscriberCaller,
    *,
    status_: Annotated[
        Literal["pending", "delivered", "failed"] | None, Query(alias="status")
    ] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryPage:
    await _own(request, subscriber, webhook_id)
    async with runtime_of(request).sessions() as session:
        found = await webhook_store.deliveries(
            session, webhook_id, status=status_, before_id=before_id, limit=limit
        )
    page = [DeliveryOut.model_validate(d, from_attributes=True) for d in found]
    return DeliveryPage(deliveries=page, next_before_id=page[-1].id if len(page) == limit else None)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a delivery again",
    description="Due at once, whatever its status, with a new series of retries; the same "
    "`webhook-id`, so a receiver that kept it drops the repeat.",
)
async def redeliver(
    webhook_id: UUID,
    delivery_id: Annotated[int, Path(ge=1, le=2**62)],
    request: Request,
    subscriber: SubscriberCaller,
) -> Redelivery:
    await _own(request, subscriber, webhook_id)
    async with runtime_of(request).sessions() as session, session.begin():
        if not await webhook_store.redeliver(session, webhook_id, delivery_id, now=utcnow()):
            raise Problem(404, f"No delivery {delivery_id} of webhook {webhook_id}.")
    return Redelivery(delivery_id=delivery_id, status="pending")
