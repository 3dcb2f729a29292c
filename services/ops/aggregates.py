"""What the dashboard and the funnel report show, read from the event log and shaped by
the pure domain. The dashboard's answer is reused for a few seconds per filter (every
open page polls it) and consumer lag, which takes a round of broker calls, for a few
more."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from services.ops import store
from services.ops.domain import dashboard as panels
from services.ops.domain.filters import BoardFilter, Scope, windows
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


K = TypeVar("K", bound=Hashable)


class CachedPerKey(Generic[K, T]):
    """A ``Cached`` answer per key (a dashboard filter), for at most ``keys`` keys: the
    one used longest ago makes room for a new one."""

    def __init__(self, load: Callable[[K], Awaitable[T]], ttl_s: float, keys: int = 32) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._keys = keys
        self._cached: dict[K, Cached[T]] = {}

    async def get(self, key: K) -> T:
        cached = self._cached.pop(key, None)
        if cached is None:
            if len(self._cached) >= self._keys:
                del self._cached[next(iter(self._cached))]
            cached = Cached(lambda: self._load(key), self._ttl_s)
        self._cached[key] = cached  # the most recently used last
        return await cached.get()


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


async def funnel_between(
    sessions: SessionFactory, start: datetime, end: datetime, scope: Scope | None = None
) -> Funnel:
    async with sessions() as session:
        rows = await store.lead_progress(session, start, end, scope)
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


class Window(BaseModel):
    start: datetime
    end: datetime
    label: str


class Filter(BaseModel):
    """The filter as asked (None: not given)."""

    from_: datetime | None = Field(None, serialization_alias="from")
    to: datetime | None = None
    owner: str | None = None
    firm: str | None = None


class Dashboard(BaseModel):
    generated_at: datetime
    window_hours: int
    filter: Filter
    windows: dict[str, Window]  # per panel: flow, routing, sla, credit, funnel
    flow: panels.Flow
    routing_by_rule: list[panels.Count]
    routing_by_owner: list[panels.Count]
    sla: list[panels.OwnerSla]
    credit: list[panels.FirmCredit]
    funnel: Funnel
    lag: Lag
    events_logged: int
    empty: dict[str, str]  # per empty panel, why it is empty


async def build_dashboard(
    sessions: SessionFactory, lag: Cached[Lag], board: BoardFilter | None = None
) -> Dashboard:
    board = board or BoardFilter()
    now = utcnow()
    span = windows(board, now)
    scope = board.scope
    async with sessions() as session:
        per_bucket = await store.received_per_bucket(
            session, span.flow.start, span.flow.end, span.bucket, scope
        )
        by_rule, by_owner = await store.routing_outcomes(
            session, span.routing.start, span.routing.end, scope
        )
        sla = await store.counts_by_type_and_owner(
            session, list(panels.SLA_TYPES), span.sla.start, span.sla.end, scope
        )
        credit = await store.latest_credit_per_lead(
            session, span.credit.start, span.credit.end, scope
        )
        logged = await store.last_seq(session)
    measured = await lag.get()
    flow = panels.flow(per_bucket, span.flow, span.bucket)
    routing_by_rule = panels.counts(by_rule)
    routing_by_owner = panels.owner_counts(by_owner)
    sla_by_owner = panels.sla_by_owner(sla)
    credit_by_firm = panels.credit_by_firm(credit)
    received = await funnel_between(sessions, span.funnel.start, span.funnel.end, scope)
    return Dashboard(
        generated_at=now,
        window_hours=int((span.routing.end - span.routing.start).total_seconds() // 3600),
        filter=Filter(
            from_=board.range.start, to=board.range.end, owner=scope.owner_id, firm=scope.firm_id
        ),
        windows={
            name: Window(start=w.start, end=w.end, label=w.label)
            for name, w in (
                ("flow", span.flow),
                ("routing", span.routing),
                ("sla", span.sla),
                ("credit", span.credit),
                ("funnel", span.funnel),
            )
        },
        flow=flow,
        routing_by_rule=routing_by_rule,
        routing_by_owner=routing_by_owner,
        sla=sla_by_owner,
        credit=credit_by_firm,
        funnel=received,
        lag=measured,
        events_logged=logged,
        empty=panels.why_empty(
            windows=span,
            scope=scope,
            now=now,
            flow=flow,
            by_rule=routing_by_rule,
            by_owner=routing_by_owner,
            sla=sla_by_owner,
            credit=credit_by_firm,
            funnel_received=received.total.received,
            lag=measured.per_service,
            lag_error=measured.error,
        ),
    )
