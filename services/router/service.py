"""Routing a lead, around the pure engine: load the snapshot, decide, and (unless it is
a dry run) store the decision as a new revision with its round-robin counters and
publish ``lead.routed`` (and an alert when nobody owns the lead), all in the caller's
transaction.

The snapshot's owners, teams, territories and the active rule set come from this
process's cache of the workspace (``settled.py``), checked against the workspace version
on every lead; counters and open-lead counts are read fresh each time.

Round robin across instances: the first decision is taken on unlocked counters; if it
used a team's rotation, the team's lock row is taken (``SELECT ... FOR UPDATE``), the
snapshot re-read and the lead decided again, so two instances never hand out the same
turn and a restart loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.router import settled, stages, store
from services.router.domain.model import Decision, Lead, Snapshot
from services.router.domain.rules import decide
from services.router.domain.ruleset import RuleSet
from services.router.tables import RoutingDecisionRow
from shared.events import routing as ev
from shared.events.envelope import utcnow
from shared.events.leads import LeadReceived
from shared.outbox import Outbox

LOCK_ATTEMPTS = 3


def lead_of(received: LeadReceived) -> Lead:
    return Lead(
        lead_id=received.lead_id,
        email_domain=received.email_domain,
        free_mail=received.free_mail,
        received_at=received.received_at,
        company=received.company,
        country=received.country,
    )


def routed_event(
    received: LeadReceived,
    decision: Decision,
    revision: int,
    *,
    decided_at: datetime,
    reason: str = "received",
    previous_owner_id: str | None = None,
) -> ev.LeadRouted:
    match, owner, firm, team = (
        decision.match,
        decision.owner,
        decision.firm_assignment,
        decision.team,
    )
    day = received.received_at.date()
    return ev.LeadRouted(
        lead_id=received.lead_id,
        revision=revision,
        lead_received_at=received.received_at,
        decided_at=decided_at,
        channel=received.channel,
        account=ev.AccountMatch(
            account_id=match.account.account_id,
            name=match.account.name,
            method=match.method,
            score=match.score,
            matched_on=match.matched_on,
            weak=match.weak,
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
            cross_sell=firm.cross_sell,
            in_notice=firm.in_notice_on(day),
        )
        if firm
        else None,
        ruleset_version=decision.ruleset_version,
        trace=[
            ev.TraceStep(rule=s.rule, matched=s.matched, reason=s.reason) for s in decision.trace
        ],
        explanation=decision.explanation,
        team=ev.TeamRef(team_id=team.team_id, name=team.name) if team else None,
        rule=decision.rule,
        reason=reason,
        previous_owner_id=previous_owner_id,
    )


async def _decide(
    session: AsyncSession,
    lead: Lead,
    ruleset: RuleSet | None,
    *,
    now: datetime,
    excluded: frozenset[str],
    lock: bool,
) -> tuple[Decision, Snapshot, RuleSet]:
    """The decision on ``ruleset`` (the active one when None), its snapshot and rule set."""
    accounts = await store.candidate_accounts(session, lead)
    snapshot, active = await settled.snapshot_for(session, accounts, as_of=now, excluded=excluded)
    ruleset = ruleset or active
    decision = decide(lead, snapshot, ruleset)
    locked: set[str] = set()
    for _ in range(LOCK_ATTEMPTS):
        teams = {team_id for team_id, _ in decision.round_robin}
        if not lock or teams <= locked:
            return decision, snapshot, ruleset
        await store.lock_round_robin(session, teams - locked)
        locked |= teams
        snapshot, _ = await settled.snapshot_for(session, accounts, as_of=now, excluded=excluded)
        decision = decide(lead, snapshot, ruleset)
    raise RuntimeError("round-robin teams kept changing while locking")  # pragma: no cover


async def simulate(
    session: AsyncSession, lead: Lead, ruleset: RuleSet, *, now: datetime | None = None
) -> Decision:
    """A dry run: the decision and trace, nothing stored, no event."""
    decision, _, _ = await _decide(
        session, lead, ruleset, now=now or utcnow(), excluded=frozenset(), lock=False
    )
    return decision


async def route(
    session: AsyncSession,
    outbox: Outbox,
    received: LeadReceived,
    *,
    revision: int,
    reason: str = "received",
    excluded: frozenset[str] = frozenset(),
    previous_owner_id: str | None = None,
    ruleset: RuleSet | None = None,
    now: datetime | None = None,
) -> ev.LeadRouted:
    """Decide and record revision ``revision`` of the lead's routing; publish it; record
    it in the lead's lifecycle and arm the owner's SLA timers. ``ruleset``: the active
    one unless given (tests, replays); ``now``: the router's clock."""
    now = now or utcnow()
    decision, snapshot, ruleset = await _decide(
        session, lead_of(received), ruleset, now=now, excluded=excluded, lock=True
    )
    event = routed_event(
        received,
        decision,
        revision,
        decided_at=now,
        reason=reason,
        previous_owner_id=previous_owner_id,
    )
    await store.save_round_robin(session, dict(decision.round_robin))
    await store.move_open_lead(
        session, previous_owner_id, decision.owner.owner_id if decision.owner else None
    )
    session.add(
        RoutingDecisionRow(
            lead_id=received.lead_id,
            revision=revision,
            decided_at=now,
            account_id=decision.match.account.account_id
            if decision.match and not decision.match.weak
            else None,
            owner_id=decision.owner.owner_id if decision.owner else None,
            team_id=decision.team.team_id if decision.team else None,
            rule=decision.rule,
            queue=decision.queue,
            ruleset_version=decision.ruleset_version,
            event=event.model_dump(mode="json"),
        )
    )
    await outbox.add(session, event)
    if decision.owner is None and decision.rule == _unassigned_rule(ruleset):
        await outbox.add(
            session,
            ev.RoutingAlert(
                lead_id=received.lead_id,
                revision=revision,
                kind="unassigned",
                queue=decision.queue or "unassigned",
                detail=event.explanation,
                raised_at=now,
            ),
        )
    owner = decision.owner
    team = snapshot.teams.get(owner.team_id or "") if owner else None
    await stages.on_routed(
        session, event, ruleset, owner=owner, team=team or decision.team, new_lead=revision == 1
    )
    return event


def _unassigned_rule(ruleset: RuleSet) -> str:
    return ruleset.rules[-1].name


async def route_new_lead(
    session: AsyncSession,
    outbox: Outbox,
    received: LeadReceived,
    *,
    ruleset: RuleSet | None = None,
    now: datetime | None = None,
) -> bool:
    """Revision 1 of a lead's routing. False when it was routed already (the same lead
    re-published under another event id)."""
    if not await store.add_lead(session, received.lead_id, received.model_dump(mode="json")):
        return False
    await route(session, outbox, received, revision=1, ruleset=ruleset, now=now)
    return True


async def reroute(
    session: AsyncSession,
    outbox: Outbox,
    lead_id: UUID,
    *,
    reason: str,
    rejected_by: str | None = None,
    also_excluded: Iterable[str] = (),
    ruleset: RuleSet | None = None,
    now: datetime | None = None,
) -> ev.LeadRouted | None:
    """A new revision of the lead's routing (never an overwrite). ``rejected_by`` is an
    owner who rejected the lead: neither they nor anyone who rejected it before gets it
    again; ``also_excluded`` are owners skipped this time only (an SLA reassignment
    skips everyone the lead had). None when the router never saw the lead."""
    row = await store.lead_row(session, lead_id, lock=True)  # serializes re-routes of a lead
    latest = await store.latest_decision(session, lead_id)
    if row is None or latest is None or row.closed:
        return None  # unknown, or closed: a closed lead is not handed to anyone
    if rejected_by and rejected_by not in row.rejected_by:
        row.rejected_by = [*row.rejected_by, rejected_by]
    received = LeadReceived.model_validate(row.received)
    return await route(
        session,
        outbox,
        received,
        revision=latest.revision + 1,
        reason=reason,
        excluded=frozenset(row.rejected_by) | frozenset(also_excluded),
        previous_owner_id=latest.owner_id,
        ruleset=ruleset,
        now=now,
    )


async def close(session: AsyncSession, lead_id: UUID) -> bool:
    """The lead is closed (won, lost, disqualified, rejected): release its owner's place
    against their capacity, once. False when unknown or already closed."""
    row = await store.lead_row(session, lead_id, lock=True)
    latest = await store.latest_decision(session, lead_id)
    if row is None or latest is None or row.closed:
        return False
    row.closed = True
    await store.move_open_lead(session, latest.owner_id, None)
    return True
