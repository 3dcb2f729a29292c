"""``GET /v1/events/stream``: the event log as Server-Sent Events, live.

Each event is ``id: <seq>``, ``event: <type>``, ``data: <the CloudEvent as JSON>``. A
client that reconnects with ``Last-Event-ID`` (browsers do it themselves) first gets
every matching event it missed, then the live ones; without it, the stream starts now.
Ops sees everything; a partner key sees its own firm's events only.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from services.ops import store
from services.ops.api.auth import ViewerCaller
from services.ops.domain.stream_filter import (
    FilterError,
    NotYours,
    StreamFilter,
    resume_position,
    stream_filter,
)
from services.ops.live import NewEvents
from services.ops.settings import OpsSettings
from shared.credentials import verifier_of
from shared.problems import PROBLEM_RESPONSES, Problem
from shared.service import runtime_of

router = APIRouter(prefix="/v1/events", tags=["events"], responses=PROBLEM_RESPONSES)


@dataclass
class OpenStreams:
    """Streams open in this process, bounded by ``OPS_MAX_STREAMS``, and a partner firm's
    by ``OPS_MAX_STREAMS_PER_FIRM`` (so one outside firm cannot take every slot and shut
    ops' own dashboard out). A slot is taken in the request handler, in the same step as
    the check (no await between them, so a burst of requests cannot all pass the check
    before any stream starts), and given back once."""

    limit: int
    per_firm_limit: int
    count: int = 0
    per_firm: dict[str, int] = field(default_factory=dict)

    def take(self, firm_id: str | None) -> Slot | None:
        """A slot for ops (``firm_id`` None) or a partner firm; None when full."""
        if self.count >= self.limit:
            return None
        if firm_id is not None:
            if self.per_firm.get(firm_id, 0) >= self.per_firm_limit:
                return None
            self.per_firm[firm_id] = self.per_firm.get(firm_id, 0) + 1
        self.count += 1
        return Slot(self, firm_id)

    def give_back(self, firm_id: str | None) -> None:
        self.count -= 1
        if firm_id is not None:
            left = self.per_firm.pop(firm_id) - 1
            if left:
                self.per_firm[firm_id] = left


@dataclass
class Slot:
    streams: OpenStreams
    firm_id: str | None
    released: bool = False

    async def release(self) -> None:
        """Idempotent: called when the stream ends and again after the response."""
        if not self.released:
            self.released = True
            self.streams.give_back(self.firm_id)


@router.get(
    "/stream",
    summary="Live events as Server-Sent Events, resumable",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}, 429: {"description": "Too many"}},
)
async def event_stream(
    *,
    request: Request,
    viewer: ViewerCaller,
    type_: Annotated[
        list[str],
        Query(
            alias="type",
            description="Event types (repeat or comma-separate); a prefix such as "
            "`leadflow.lead` or `leadflow.lead.*` takes every type under it.",
        ),
    ] = [],  # noqa: B006 - FastAPI copies the default
    firm: Annotated[str | None, Query(description="Only this firm's events")] = None,
    account: Annotated[str | None, Query(description="Only this account's events")] = None,
    last_event_id: Annotated[
        str | None, Query(description="Resume after this position (as Last-Event-ID)")
    ] = None,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    try:
        where = stream_filter(types=type_, firm=firm, account=account, viewer_firm=viewer.firm_id)
        after = resume_position(last_event_id_header, last_event_id)
    except FilterError as bad:
        raise Problem(
            422, f"{bad.field}: {bad.reason}", errors=[{"field": bad.field, "reason": bad.reason}]
        ) from bad
    except NotYours as other:
        raise Problem(403, f"A partner key sees its own firm's events, not {other}.") from other
    open_streams: OpenStreams = request.app.state.open_streams
    slot = open_streams.take(viewer.firm_id)
    if slot is None:
        raise Problem(
            429, "Too many open event streams; retry shortly.", headers={"Retry-After": "5"}
        )
    try:
        if after is None:
            async with runtime_of(request).sessions() as session:
                after = await store.last_seq(session)
    except BaseException:
        await slot.release()
        raise
    settings: OpsSettings = request.app.state.ops_settings
    return EventSourceResponse(
        _events(request, where, after, slot, viewer.key_id),
        ping=settings.stream_ping_s,
        send_timeout=30,  # a client that stops reading is let go
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        # the slot goes back even if the stream never starts (the client gone before)
        background=BackgroundTask(slot.release),
    )


REVOCATION_S = 0.5


async def _events(
    request: Request, where: StreamFilter, after: int, slot: Slot, key_id: str | None
) -> AsyncIterator[ServerSentEvent]:
    """Matching events after ``after``, then live ones. A partner's stream ends as soon as
    its key is revoked (checked at each look, before anything more is sent)."""
    runtime = runtime_of(request)
    new_events: NewEvents = request.app.state.new_events
    poll_s: float = request.app.state.ops_settings.stream_poll_s
    try:
        yield ServerSentEvent(retry=2000, comment=f"resuming after {after}")
        while not runtime.stop.is_set():
            if key_id is not None and not await verifier_of(request).in_force(key_id):
                return
            async with runtime.sessions() as session:
                batch = await store.events_after(session, after, where)
            for event in batch:
                after = event.seq
                yield ServerSentEvent(
                    data=json.dumps(event.envelope_json(), separators=(",", ":")),
                    event=event.type,
                    id=str(event.seq),
                )
            if len(batch) < store.STREAM_BATCH:
                # A partner's stream looks at least every REVOCATION_S, so a revoked key
                # stops receiving within it however quiet the stream is.
                await new_events.wait(poll_s if key_id is None else min(poll_s, REVOCATION_S))
    finally:
        await slot.release()
