"""Credit's event handlers: each fact about a lead is stored as it comes (in event time,
in any order) and the lead is re-decided from all of them. A touch is a fact about an
account: it is stored and the leads it bears on are queued for the review sweep."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import store
from services.credit.service import redecide
from shared.consumer import Handler
from shared.events.activities import ActivityLogged, MeetingUpdated
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from shared.events.routing import LeadRouted
from shared.events.status import LeadStatusChanged
from shared.outbox import Outbox

_OPTIONAL_FIELDS = ("name", "company", "title", "phone", "country")


async def on_lead_received(session: AsyncSession, envelope: Envelope, outbox: Outbox) -> None:
    lead = LeadReceived.from_envelope(envelope)
    await store.add_fact(
        session,
        event_id=envelope.id,
        lead_id=lead.lead_id,
        kind="received",
        occurred_at=lead.received_at,
        email_domain=lead.email_domain,
        data={
            "channel": lead.channel,
            "source": lead.source,
            "firm_id": lead.firm_id,
            "email_domain": lead.email_domain,
            "fields": [f for f in _OPTIONAL_FIELDS if getattr(lead, f)],
        },
    )
    await store.lock(session, f"domain:{lead.email_domain}")  # see on_activity
    await redecide(session, outbox, lead.lead_id)


async def on_lead_routed(session: AsyncSession, envelope: Envelope, outbox: Outbox) -> None:
    routed = LeadRouted.from_envelope(envelope)
    firm = routed.firm_assignment
    await store.add_fact(
        session,
        event_id=envelope.id,
        lead_id=routed.lead_id,
        kind="routed",
        occurred_at=routed.decided_at,
        data={
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
    await redecide(session, outbox, routed.lead_id)


async def on_activity(session: AsyncSession, envelope: Envelope) -> None:
    touch = ActivityLogged.from_envelope(envelope)
    # A touch and a lead on the same domain, applied at once by two consumers, must not
    # each miss the other: the domain lock makes the second one see the first's commit.
    await store.lock(session, f"domain:{touch.email_domain}")
    await store.add_touch(
        session,
        event_id=envelope.id,
        firm_id=touch.firm_id,
        email_domain=touch.email_domain,
        occurred_at=touch.occurred_at,
    )
    # The leads it bears on are re-decided by the review sweep, each in a transaction of
    # its own: inline, one touch on a busy domain held every lead's lock in one transaction.
    await store.queue_leads_touch_bears_on(session, touch.email_domain, touch.occurred_at)


async def on_meeting(session: AsyncSession, envelope: Envelope, outbox: Outbox) -> None:
    meeting = MeetingUpdated.from_envelope(envelope)
    if meeting.lead_id is None:
        return  # a meeting not tied to a registered lead earns nothing until it is
    await store.add_fact(
        session,
        event_id=envelope.id,
        lead_id=meeting.lead_id,
        kind="meeting",
        occurred_at=meeting.occurred_at,
        data={
            "meeting_id": str(meeting.meeting_id),
            "status": meeting.status,
            "reported_at": meeting.reported_at.isoformat(),
            "scheduled_for": meeting.scheduled_for.isoformat() if meeting.scheduled_for else None,
            "reported_by": meeting.reported_by,
        },
    )
    await redecide(session, outbox, meeting.lead_id)


async def on_status(session: AsyncSession, envelope: Envelope, outbox: Outbox) -> None:
    status = LeadStatusChanged.from_envelope(envelope)
    await store.add_fact(
        session,
        event_id=envelope.id,
        lead_id=status.lead_id,
        kind="status",
        occurred_at=status.occurred_at,
        data={"stage": status.stage, "reason_code": status.reason_code},
    )
    await redecide(session, outbox, status.lead_id)


def handlers(outbox: Outbox) -> dict[str, Handler]:
    with_outbox: dict[str, Callable[..., Awaitable[None]]] = {
        LeadReceived.event_type: on_lead_received,
        LeadRouted.event_type: on_lead_routed,
        MeetingUpdated.event_type: on_meeting,
        LeadStatusChanged.event_type: on_status,
    }
    built: dict[str, Handler] = {t: partial(h, outbox=outbox) for t, h in with_outbox.items()}
    built[ActivityLogged.event_type] = on_activity
    return built
