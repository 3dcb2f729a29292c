"""A lead's whole timeline across services, and the lead list behind the dashboard's
search box and its charts (ops token)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from services.ops import store
from services.ops.api.reports import Firm, From, Owner, To, refused_as_422
from services.ops.domain.filters import LEAD_EVENTS, lead_query
from services.ops.domain.funnel import NO_CAMPAIGN
from services.ops.domain.timeline import AUDITED, Fact, Timeline, timeline
from shared import audit
from shared.credentials import ReadCaller
from shared.problems import PROBLEM_RESPONSES, Problem
from shared.service import runtime_of

router = APIRouter(prefix="/v1/leads", tags=["leads"], responses=PROBLEM_RESPONSES)


@router.get(
    "/{lead_id}",
    summary="A lead's timeline across services",
    description="Every event about the lead, and every admin write that changed it (from "
    "the audit log: who settled its dispute, and how), in the pipeline's order (event time, but a "
    "credit decision, dated as of the lead's facts, after the routing revision it "
    "followed), each with a one-line summary (the routing trace and the credit reasons as "
    "details), and a header saying where the lead stands: stage, owner, account, firm, "
    "credit.",
)
async def lead_timeline(lead_id: UUID, request: Request, _caller: ReadCaller) -> Timeline:
    async with runtime_of(request).sessions() as session:
        logged = await store.lead_events(session, lead_id)
        changes = await audit.entries(session, audit.AuditQuery(lead_id=lead_id, limit=500))
    if not logged:
        raise Problem(404, f"No events about lead {lead_id}.")
    facts = [Fact(e.seq, e.type, e.source, e.time, e.data) for e in logged]
    facts += [
        Fact(0, AUDITED, f"/{c.service}", c.at, c.model_dump(mode="json", exclude={"id"}))
        for c in changes
    ]
    return timeline(lead_id, facts)


class LeadList(BaseModel):
    q: str | None
    total: int  # every lead that matches, of which ``leads`` are the newest
    leads: list[store.LeadHit]


@router.get(
    "",
    summary="Find leads: by text, or the leads behind a dashboard chart",
    description="Received leads, newest first. `q`: email, name, company (contains), email "
    "domain (exact), lead id (prefix). `event` with `from`/`to`: leads with such an event "
    "in the range (`received`: received then; `routed`: routed then, `rule` the deciding "
    "rule; `sla_reminder`, `sla_breached`, `reassigned`; `credit`: the latest credit "
    f"decision in the range, `state` its state). `channel`, `campaign` (`{NO_CAMPAIGN}`: "
    "none) match that event's; `owner` and `firm` narrow as on the dashboard.",
)
async def list_leads(
    request: Request,
    _caller: ReadCaller,
    *,
    q: Annotated[
        str | None,
        Query(
            min_length=2,
            max_length=200,
            pattern=r"^[^\x00-\x1f\x7f]*$",  # no control characters (NUL breaks the query)
            description="What to look for",
        ),
    ] = None,
    event: Annotated[
        str, Query(description=f"Which events' leads: {', '.join(LEAD_EVENTS)}")
    ] = "received",
    from_: From = None,
    to: To = None,
    owner: Owner = None,
    firm: Firm = None,
    channel: Annotated[str | None, Query(description="The event's channel")] = None,
    campaign: Annotated[str | None, Query(description="The event's campaign")] = None,
    rule: Annotated[str | None, Query(description="event=routed: the deciding rule")] = None,
    state: Annotated[str | None, Query(description="event=credit: the latest state")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> LeadList:
    with refused_as_422():
        query = lead_query(
            event=event,
            from_=from_,
            to=to,
            owner=owner,
            firm=firm,
            q=q,
            channel=channel,
            campaign=campaign,
            rule=rule,
            state=state,
        )
    async with runtime_of(request).sessions() as session:
        hits, total = await store.list_leads(session, query, limit)
    return LeadList(q=q, total=total, leads=hits)
