"""What the dashboard and the funnel report show, read from the event log and shaped by
the pure domain. The dashboard's answer is reused for a few seconds (every open page
polls it) and consumer lag, which takes a round of broker calls, for a few more."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from pydantic import BaseModel

from services.ops import store
from services.ops.domain import dashboard as panels
from services.ops.domain.funnel import Funnel, LeadProgress, funnel
from services.reconcile import consumer_lag
from shared.db import SessionFactory
from shared.events.envelope import utcnow
from shared.observability import get_logger
from shared.settings import Settings

log = get_logger(__name__)

T = TypeVar("T")


class Cached(Generic[T]):
    """The last answer of ``load`` while younger than ``ttl_s``; one load at a time."""

    def __init__(self, load: Callable[[], Awaitable[T]], ttl_s: float) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._value: tuple[float, T] | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> T:
        async with self._lock:
            now = time.monotonic()
            if self._value is None or now - self._value[0] > self._ttl_s:
                self._value = (now, await self._load())
            return self._value[1]


class Lag(BaseModel):
    per_service: dict[str, int]
    per_group: dict[str, int]
    measured_at: datetime
    error: str | None = None


def lag_reader(settings: Settings, ttl_s: float) -> Cached[Lag]:
    async def measure() -> Lag:
        try:
            groups = await asyncio.wait_for(consumer_lag(settings), 10)
        except Exception as exc:  # the broker's trouble is shown on the panel, not raised
            log.warning("ops_lag_unknown", error=repr(exc))
            return Lag(per_service={}, per_group={}, measured_at=utcnow(), error=repr(exc))
        return Lag(
            per_service=panels.lag_by_service(groups),
            per_group=dict(sorted(groups.items())),
            measured_at=utcnow(),
        )

    return Cached(measure, ttl_s)


async def funnel_between(sessions: SessionFactory, start: datetime, end: datetime) -> Funnel:
    async with sessions() as session:
        rows = await store.lead_progress(session, start, end)
    return funnel(
        LeadProgress(
            channel=r.channel,
            campaign=r.campaign,
            stages=frozenset(r.stages),
            meeting_statuses=frozenset(r.meeting_statuses),
            credit_state=r.credit_state,
            credit_amount=r.credit_amount,
        )
        for r in rows
    )


class Dashboard(BaseModel):
    generated_at: datetime
    window_hours: int
    flow: panels.Flow
    routing_by_rule: list[panels.Count]
    routing_by_owner: list[panels.Count]
    sla: list[panels.OwnerSla]
    credit: list[panels.FirmCredit]
    funnel: Funnel
    lag: Lag
    events_logged: int


WINDOW = timedelta(hours=24)
FUNNEL_WINDOW = timedelta(days=30)


async def build_dashboard(sessions: SessionFactory, lag: Cached[Lag]) -> Dashboard:
    now = utcnow()
    since = now - WINDOW
    async with sessions() as session:
        per_minute = await store.received_per_minute(session, now - timedelta(minutes=60))
        by_rule, by_owner = await store.routing_outcomes(session, since)
        sla = await store.counts_by_type_and_owner(session, list(panels.SLA_TYPES), since)
        credit = await store.latest_credit_per_lead(session, now - FUNNEL_WINDOW)
        logged = await store.last_seq(session)
    return Dashboard(
        generated_at=now,
        window_hours=int(WINDOW.total_seconds() // 3600),
        flow=panels.flow(per_minute, now),
        routing_by_rule=panels.counts(by_rule),
        routing_by_owner=panels.counts(by_owner),
        sla=panels.sla_by_owner(sla),
        credit=panels.credit_by_firm(credit),
        funnel=await funnel_between(sessions, now - FUNNEL_WINDOW, now + timedelta(minutes=1)),
        lag=await lag.get(),
        events_logged=logged,
    )
