"""``/v1/notifications``: what was told to whom, newest first — every notification with its
channel, status, attempts and the message that carried it (admin scope: it names people's
addresses; a Slack webhook's secret path is never shown)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from services.ops import notify_store
from shared.credentials import AdminCaller
from shared.db import driver_connection
from shared.problems import PROBLEM_RESPONSES
from shared.service import runtime_of

router = APIRouter(prefix="/v1/notifications", tags=["notifications"], responses=PROBLEM_RESPONSES)


class NotificationOut(BaseModel):
    id: int
    kind: str
    recipient_id: str
    channel: str
    address: str  # an email address, or a Slack webhook's host (its path is a secret)
    lead_id: UUID | None
    title: str
    sentence: str
    status: str  # pending, sent, failed
    attempts: int
    next_attempt_at: datetime  # when a pending one goes: business hours, pace, a retry
    sent_at: datetime | None
    last_error: str | None
    message_id: str | None  # the message that carried it (a digest carries several)
    occurred_at: datetime
    created_at: datetime


class NotificationPage(BaseModel):
    notifications: list[NotificationOut]
    next_before_id: int | None  # pass as before_id for the next (older) page


def _shown(channel: str, address: str) -> str:
    return f"{urlsplit(address).hostname}/…" if channel == "slack" else address


@router.get("", summary="Notifications to people, newest first")
async def list_notifications(
    request: Request,
    _caller: AdminCaller,
    *,
    recipient_id: Annotated[
        str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")
    ] = None,
    status: Literal["pending", "sent", "failed"] | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> NotificationPage:
    async with runtime_of(request).sessions() as session:
        found = await notify_store.listed(
            await driver_connection(session),
            recipient_id=recipient_id,
            status=status,
            before_id=before_id,
            limit=limit,
        )
    page = [NotificationOut(**(vars(n) | {"address": _shown(n.channel, n.address)})) for n in found]
    return NotificationPage(
        notifications=page, next_before_id=found[-1].id if len(found) == limit else None
    )
