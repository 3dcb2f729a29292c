"""Router's event handlers: ``lead.received`` in → routing decision + ``lead.routed`` out,
in the consumer's transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.router import store
from services.router.domain.model import Decision, Lead
from services.router.domain.rules import route
from shared.events import routing as ev
from shared.events.envelope import Envelope, utcnow
from shared.events.leads import LeadReceived
from shared.outbox import Outbox


def routed_event(received: LeadReceived, decision: Decision, revision: int) -> ev.LeadRouted:
    match, owner, firm = decision.match, decision.owner, decision.firm_assignment
    return ev.LeadRouted(
        lead_id=received.lead_id,
        revision=revision,
        lead_received_at=received.received_at,
        decided_at=utcnow(),
        channel=received.channel,
        account=ev.AccountMatch(
            account_id=match.account.account_id,
            name=match.account.name,
            method=match.method,
            score=match.score,
        )
        if match
        else None,
        owner=ev.OwnerRef(owner_id=owner.owner_id, name=owner.name, role=owner.role)
        if owner
        else None,
        queue=decision.queue,
        flags=list(decision.flags),
        firm_assignment=ev.FirmAssignment(
            firm_id=firm.firm_id,
            starts_on=firm.starts_on,
            ends_on=firm.ends_on,
            notice_ends_on=firm.notice_ends_on,
        )
        if firm
        else None,
        ruleset_version=decision.ruleset_version,
        trace=[
            ev.TraceStep(rule=s.rule, matched=s.matched, reason=s.reason) for s in decision.trace
        ],
        explanation=decision.explanation,
    )


async def on_lead_received(session: AsyncSession, envelope: Envelope, outbox: Outbox) -> None:
    received = LeadReceived.from_envelope(envelope)
    if await store.latest_decision(session, received.lead_id) is not None:
        return  # already routed (the same lead re-published under another event id)
    lead = Lead(
        lead_id=received.lead_id,
        email_domain=received.email_domain,
        free_mail=received.free_mail,
        received_at=received.received_at,
        company=received.company,
    )
    decision = route(lead, await store.accounts_with_domain(session, lead.email_domain))
    event = routed_event(received, decision, revision=1)
    session.add(
        store.RoutingDecisionRow(
            lead_id=received.lead_id,
            revision=1,
            decided_at=event.decided_at,
            account_id=decision.match.account.account_id if decision.match else None,
            owner_id=decision.owner.owner_id if decision.owner else None,
            queue=decision.queue,
            ruleset_version=decision.ruleset_version,
            event=event.model_dump(mode="json"),
        )
    )
    await outbox.add(session, event)
