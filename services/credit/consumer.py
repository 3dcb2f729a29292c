"""Credit's consumer: every fact about a lead is stored as it comes (in event time, in any
order) and the leads a poll's facts are about are re-decided together, each once
(``service.redecide_all``). A touch is a fact about an account: it is stored and the
inbound leads it bears on are queued for the review sweep."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import store
from services.credit.domain.facts import Touch
from services.credit.service import redecide_all
from services.credit.store import FactRow
from shared.consumer import BatchHandler, Incoming
from shared.db import driver_connection, lock
from shared.events.activities import ActivityLogged, MeetingUpdated
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from shared.events.routing import LeadRouted
from shared.events.status import LeadStatusChanged
from shared.outbox import Outbox

_OPTIONAL_FIELDS = ("name", "company", "title", "phone", "country")


def received_fact(envelope: Envelope) -> FactRow:
    lead = LeadReceived.from_envelope(envelope)
    return FactRow(
        envelope.id,
        lead.lead_id,
        "received",
        lead.received_at,
        {
            "channel": lead.channel,
            "source": lead.source,
            "firm_id": lead.firm_id,
            "email_domain": lead.email_domain,
            "fields": [f for f in _OPTIONAL_FIELDS if getattr(lead, f)],
        },
        lead.email_domain,
    )


def routed_fact(envelope: Envelope) -> FactRow:
    routed = LeadRouted.from_envelope(envelope)
    firm = routed.firm_assignment
    return FactRow(
        envelope.id,
        routed.lead_id,
        "routed",
        routed.decided_at,
        {
            "revision": routed.revision,
            "firm_id": firm.firm_id if firm else None,
            "starts_on": firm.starts_on.isoformat() if firm else None,
            "account_id": routed.account.account_id if routed.account else None,
            "account_name": routed.account.name if routed.account else None,
            "customer": routed.rule == "customer",
            "cross_sell": bool(firm and firm.cross_sell),
            "in_notice": bool(firm and firm.in_notice),
        },
    )


def meeting_fact(envelope: Envelope) -> FactRow | None:
    meeting = MeetingUpdated.from_envelope(envelope)
    if meeting.lead_id is None:
        return None  # a meeting not tied to a registered lead earns nothing until it is
    data: dict[str, Any] = {
        "meeting_id": str(meeting.meeting_id),
        "status": meeting.status,
        "reported_at": meeting.reported_at.isoformat(),
        "scheduled_for": meeting.scheduled_for.isoformat() if meeting.scheduled_for else None,
        "reported_by": meeting.reported_by,
    }
    return FactRow(envelope.id, meeting.lead_id, "meeting", meeting.occurred_at, data)


def status_fact(envelope: Envelope) -> FactRow:
    status = LeadStatusChanged.from_envelope(envelope)
    data = {"stage": status.stage, "reason_code": status.reason_code}
    return FactRow(envelope.id, status.lead_id, "status", status.occurred_at, data)


_FACTS = {
    LeadReceived.event_type: received_fact,
    LeadRouted.event_type: routed_fact,
    MeetingUpdated.event_type: meeting_fact,
    LeadStatusChanged.event_type: status_fact,
}
TYPES = frozenset({*_FACTS, ActivityLogged.event_type})


async def on_facts(session: AsyncSession, batch: Sequence[Incoming], outbox: Outbox | None) -> None:
    """Store the poll's facts and touches (a statement each), queue the leads its touches
    bear on, then re-decide the leads its facts are about (announced through ``outbox``,
    unless None: ``redecide_all``)."""
    facts: list[FactRow] = []
    touches: list[tuple[UUID, Touch]] = []
    traces: dict[UUID, Mapping[str, str]] = {}
    for incoming in batch:
        envelope = incoming.envelope
        if envelope.type == ActivityLogged.event_type:
            touch = ActivityLogged.from_envelope(envelope)
            touches.append(
                (envelope.id, Touch(touch.firm_id, touch.occurred_at, touch.email_domain))
            )
            continue
        fact = _FACTS[envelope.type](envelope)
        if fact is not None:
            facts.append(fact)
            traces[fact.lead_id] = incoming.trace
    conn = await driver_connection(session)
    # A touch and a lead on the same domain, applied at once by two consumers, must not
    # each miss the other: the domain lock makes the second one see the first's commit.
    domains = {f.email_domain for f in facts if f.email_domain} | {
        t.email_domain for _, t in touches
    }
    await lock(conn, [store.domain_key(d) for d in domains])
    await store.add_facts(conn, facts)
    await store.add_touches(conn, touches)
    # The leads a touch bears on are re-decided by the review sweep, each in a small
    # transaction: inline, one touch on a busy domain held every lead's lock at once.
    await store.queue_leads_touches_bear_on(conn, [t for _, t in touches])
    await redecide_all(session, outbox, [f.lead_id for f in facts], traces=traces)


def handler(outbox: Outbox) -> BatchHandler:
    return partial(on_facts, outbox=outbox)
