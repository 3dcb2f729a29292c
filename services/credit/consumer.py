"""Credit's event handlers: ``lead.routed`` in → credit decision + ``credit.decided`` out."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import store
from services.credit.domain.policy import RoutingFacts, Terms, decide
from shared.events.credit import CreditDecided, Reason
from shared.events.envelope import Envelope, utcnow
from shared.events.routing import LeadRouted
from shared.outbox import Outbox


async def on_lead_routed(session: AsyncSession, envelope: Envelope, outbox: Outbox) -> None:
    routed = LeadRouted.from_envelope(envelope)
    latest = await store.latest_decision(session, routed.lead_id)
    if latest is not None and latest.routing_revision >= routed.revision:
        return  # an older routing revision arriving late changes nothing
    facts = RoutingFacts(
        lead_id=routed.lead_id,
        routing_revision=routed.revision,
        firm_id=routed.firm_assignment.firm_id if routed.firm_assignment else None,
        account_name=routed.account.name if routed.account else None,
    )
    decision = decide(facts, Terms())
    revision = (latest.revision if latest else 0) + 1
    event = CreditDecided(
        lead_id=routed.lead_id,
        revision=revision,
        routing_revision=routed.revision,
        firm_id=decision.firm_id,
        state=decision.state,
        amount=decision.amount,
        currency=decision.currency,
        policy_version=decision.policy_version,
        reasons=[Reason(rule=r.rule, sentence=r.sentence) for r in decision.reasons],
        decided_at=utcnow(),
    )
    session.add(
        store.CreditDecisionRow(
            lead_id=routed.lead_id,
            revision=revision,
            routing_revision=routed.revision,
            firm_id=decision.firm_id,
            state=decision.state,
            amount=decision.amount,
            currency=decision.currency,
            policy_version=decision.policy_version,
            decided_at=event.decided_at,
            event=event.model_dump(mode="json"),
        )
    )
    await outbox.add(session, event)
