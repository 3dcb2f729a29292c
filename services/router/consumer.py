"""Router's event handlers, each in the consumer's transaction:
- ``lead.received`` → revision 1 of the lead's routing + ``lead.routed`` + SLA timers, a
  poll's batch at a time;
- ``lead.status_changed`` from another service (a CRM sync, intake's webhooks) → kept in
  the lead's lifecycle; rejected as ``wrong_owner`` → a new revision that skips the owner
  who rejected it (and anyone who did before); a closing stage → the owner's capacity
  is released (once). The router's own status changes (its stage API) were applied when
  they were made and are skipped here;
- ``meeting.updated`` with a lead → the meeting's stage in the lead's lifecycle,
  leniently (a fact is kept even when it comes out of order).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.router import lifecycle, service, store
from services.router.domain.lifecycle import MEETING_STAGES, closes, reroutes
from shared.consumer import Incoming
from shared.events.activities import MeetingUpdated
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from shared.events.status import LeadStatusChanged
from shared.events.topics import is_bulk
from shared.observability import get_logger
from shared.outbox import Outbox
from shared.times import SYSTEM_CLOCK, Clock

log = get_logger(__name__)


async def on_leads_received(
    session: AsyncSession, batch: Sequence[Incoming], outbox: Outbox, clock: Clock = SYSTEM_CLOCK
) -> None:
    """A poll's new leads, routed together (``service.route_new_leads``)."""
    leads = [(LeadReceived.from_envelope(i.envelope), i.trace) for i in batch]
    bulk = [lead.lead_id for (lead, _), i in zip(leads, batch, strict=True) if is_bulk(i.topic)]
    await service.route_new_leads(session, outbox, leads, now=clock(), bulk=bulk)


async def on_lead_status_changed(
    session: AsyncSession, envelope: Envelope, outbox: Outbox, clock: Clock = SYSTEM_CLOCK
) -> None:
    if envelope.source == outbox.source:
        return  # made through the router's stage API, and applied there
    changed = LeadStatusChanged.from_envelope(envelope)
    now = clock()
    latest = await store.latest_decision(session, changed.lead_id)
    # A wrong-owner rejection of a revision that has since been replaced changes nothing.
    stale = (
        reroutes(changed.stage, changed.reason_code)
        and latest is not None
        and latest.decided_at > changed.occurred_at
    )
    await lifecycle.record_fact(
        session,
        changed.lead_id,
        None if stale else changed.stage,
        occurred_at=changed.occurred_at,
        now=now,
        source=envelope.source,
        actor=changed.actor,
        reason_code=changed.reason_code,
        comment=changed.comment,
        fact=f"status.{changed.stage}",
    )
    if closes(changed.stage, changed.reason_code):
        await service.close(session, changed.lead_id)
        return
    if not reroutes(changed.stage, changed.reason_code):
        return
    if latest is None:
        # Rejected before router routed it (facts arrive out of order); nothing to undo.
        log.warning("rejection_of_unrouted_lead", lead_id=str(changed.lead_id))
        return
    if stale:
        return  # rejects an older revision: the lead has been routed again since
    await service.reroute(
        session,
        outbox,
        changed.lead_id,
        reason="owner_rejected",
        rejected_by=latest.owner_id,
        now=now,
    )


async def on_meeting_updated(
    session: AsyncSession, envelope: Envelope, clock: Clock = SYSTEM_CLOCK
) -> None:
    meeting = MeetingUpdated.from_envelope(envelope)
    if meeting.lead_id is None:
        return  # a meeting not tied to a registered lead has no lifecycle to move
    await lifecycle.record_fact(
        session,
        meeting.lead_id,
        MEETING_STAGES[meeting.status],
        occurred_at=meeting.occurred_at,
        now=clock(),
        source=envelope.source,
        actor=meeting.reported_by,
        fact=f"meeting.{meeting.status}",
        meeting_id=str(meeting.meeting_id),
        comment=meeting.comment,
    )
