"""Router's event handlers, each in the consumer's transaction:
- ``lead.received`` → revision 1 of the lead's routing + ``lead.routed``;
- ``lead.status_changed`` rejected as ``wrong_owner`` → a new revision that skips the
  owner who rejected it (and anyone who did before);
- ``lead.status_changed`` to a closing stage → the owner's capacity is released (once)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.router import service, store
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from shared.events.status import LeadStatusChanged
from shared.observability import get_logger
from shared.outbox import Outbox

log = get_logger(__name__)

# Stages after which a lead no longer takes a place in its owner's capacity. A rejection
# as "wrong_owner" is not one of them: it moves the lead to someone else.
CLOSING_STAGES = frozenset({"rejected", "disqualified", "closed_won", "closed_lost"})


async def on_lead_received(session: AsyncSession, envelope: Envelope, outbox: Outbox) -> None:
    await service.route_new_lead(session, outbox, LeadReceived.from_envelope(envelope))


async def on_lead_status_changed(session: AsyncSession, envelope: Envelope, outbox: Outbox) -> None:
    changed = LeadStatusChanged.from_envelope(envelope)
    if changed.stage in CLOSING_STAGES and not (
        changed.stage == "rejected" and changed.reason_code == "wrong_owner"
    ):
        await service.close(session, changed.lead_id)
        return
    if changed.stage != "rejected" or changed.reason_code != "wrong_owner":
        return
    latest = await store.latest_decision(session, changed.lead_id)
    if latest is None:
        # Rejected before router routed it (facts arrive out of order); nothing to undo.
        log.warning("rejection_of_unrouted_lead", lead_id=str(changed.lead_id))
        return
    if latest.decided_at > changed.occurred_at:
        return  # rejects an older revision: the lead has been routed again since
    await service.reroute(
        session, outbox, changed.lead_id, reason="owner_rejected", rejected_by=latest.owner_id
    )
