"""Routing leads, around the pure engine, a batch at a time: load the snapshot once, decide
every lead in order, and (unless it is a dry run) store the decisions as new revisions
with their round-robin counters and open-lead counts, publish ``lead.routed`` (and an
alert when nobody owns a lead), and record each in its lifecycle with its SLA timers —
all in the caller's transaction, in a bounded number of statements per batch.

The snapshot's owners, teams, territories and the active rule set come from this
process's cache of the workspace (``settled.py``), checked against the workspace version
once per batch; counters and open-lead counts are read fresh, and carried from one lead
of the batch to the next as it is decided (the second lead of a team's rotation sees the
first's pick).

Round robin across instances: the batch is first decided on unlocked counters; if it used
any team's rotation, those teams' lock rows are taken (one statement, in a fixed order so
two instances never deadlock), the counts re-read and the batch decided again, so two
instances never hand out the same turn and a restart loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.router import settled, stages, store
from services.router.domain.model import Account, Decision, Lead, Owner, Snapshot, Team
from services.router.domain.rules import decide
from services.router.domain.ruleset import RuleSet
from shared.db import driver_connection
from shared.events import routing as ev
from shared.events.envelope import utcnow
from shared.events.leads import LeadReceived
from shared.events.topics import LEADS_ROUTED, in_lane
from shared.outbox import Outbox, Outgoing

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


@dataclass(frozen=True)
class Request:
    """One lead to route: revision ``revision`` of its routing, and why."""

    received: LeadReceived
    revision: int
    reason: str = "received"
    excluded: frozenset[str] = frozenset()  # owners who may not have it
    previous_owner_id: str | None = None
    trace: Mapping[str, str] | None = field(default=None, compare=False)  # what caused it
    bulk: bool = False  # a bulk lead's, or an account hand-over's: the bulk lane


@dataclass(frozen=True)
class _Decided:
    request: Request
    decision: Decision
    teams: Mapping[str, Team]  # the workspace's, for the owner's team


class _Counts:
    """The fast-changing part of the snapshot, carried from one decision to the next: the
    owners with their open leads kept up to date as leads are taken (only the owners whose
    count moves are copied again)."""

    def __init__(self, current: settled.Counts, space: settled.Settled) -> None:
        self.round_robin = dict(current.round_robin)
        self.open_leads = dict(current.open_leads)
        self.space = space
        self._owners = dict(space.owners)
        for owner_id, n in self.open_leads.items():
            self._set_open(owner_id, n)

    def owners(self) -> Mapping[str, Owner]:
        """The owners as they stand now, read only: a view that the next ``take`` changes,
        so it is good for one decision (copying a few hundred owners per lead cost more
        than the decision's rules)."""
        return MappingProxyType(self._owners)

    def take(self, decision: Decision, previous_owner_id: str | None) -> None:
        self.round_robin.update(decision.round_robin)
        new = decision.owner.owner_id if decision.owner else None
        if new == previous_owner_id:
            return
        for owner_id, step in ((previous_owner_id, -1), (new, 1)):
            if owner_id is not None and owner_id in self.open_leads:
                self.open_leads[owner_id] = max(0, self.open_leads[owner_id] + step)
                self._set_open(owner_id, self.open_leads[owner_id])

    def _set_open(self, owner_id: str, n: int) -> None:
        owner = self._owners.get(owner_id)
        if owner is not None and owner.open_leads != n:
            self._owners[owner_id] = replace(owner, open_leads=n)


def _decide_in_order(
    requests: Sequence[Request],
    accounts: Mapping[UUID, dict[str, Account]],
    counts: _Counts,
    ruleset: RuleSet,
    now: datetime,
) -> list[_Decided]:
    decided = []
    for request in requests:
        snapshot = Snapshot(
            accounts=accounts.get(request.received.lead_id, {}),
            owners=counts.owners(),
            teams=counts.space.teams,
            territories=counts.space.territories,
            round_robin=dict(counts.round_robin),
            as_of=now,
            excluded_owner_ids=request.excluded,
            coverage=counts.space.coverage,
            rosters=counts.space.rosters,
        )
        decision = decide(lead_of(request.received), snapshot, ruleset)
        counts.take(decision, request.previous_owner_id)
        decided.append(_Decided(request, decision, snapshot.teams))
    return decided


async def _decide_all(
    session: AsyncSession,
    requests: Sequence[Request],
    ruleset: RuleSet | None,
    *,
    now: datetime,
    lock: bool,
) -> tuple[list[_Decided], RuleSet, _Counts]:
    conn = await driver_connection(session)
    accounts = await store.candidate_accounts_of(conn, [lead_of(r.received) for r in requests])
    locked: set[str] = set()
    for _ in range(LOCK_ATTEMPTS):
        current = await settled.counts(session)
        space = await settled.settled(session, current.version)
        rules = ruleset or space.ruleset
        counts = _Counts(current, space)
        decided = _decide_in_order(requests, accounts, counts, rules, now)
        teams = {team for d in decided for team, _ in d.decision.round_robin}
        if not lock or teams <= locked:
            return decided, rules, counts
        await store.lock_round_robin(conn, teams - locked)
        locked |= teams
    raise RuntimeError("round-robin teams kept changing while locking")  # pragma: no cover


async def simulate(
    session: AsyncSession, lead: Lead, ruleset: RuleSet, *, now: datetime | None = None
) -> Decision:
    """A dry run: the decision and trace, nothing stored, no event."""
    received = LeadReceived(
        lead_id=lead.lead_id,
        received_at=lead.received_at,
        channel="simulation",
        source="simulation",
        email=f"simulated@{lead.email_domain or 'example.invalid'}",
        email_domain=lead.email_domain,
        free_mail=lead.free_mail,
        company=lead.company,
        country=lead.country,
    )
    decided, _, _ = await _decide_all(
        session, [Request(received, 0)], ruleset, now=now or utcnow(), lock=False
    )
    return decided[0].decision


async def route_all(
    session: AsyncSession,
    outbox: Outbox,
    requests: Sequence[Request],
    *,
    ruleset: RuleSet | None = None,
    now: datetime | None = None,
) -> list[ev.LeadRouted]:
    """Decide and record each request's revision, in order; publish them; record them in
    the leads' lifecycles and arm the owners' SLA timers. ``ruleset``: the active one
    unless given (tests, replays); ``now``: the router's clock."""
    if not requests:
        return []
    now = now or utcnow()
    decided, ruleset, _ = await _decide_all(session, requests, ruleset, now=now, lock=True)
    events = [
        routed_event(
            d.request.received,
            d.decision,
            d.request.revision,
            decided_at=now,
            reason=d.request.reason,
            previous_owner_id=d.request.previous_owner_id,
        )
        for d in decided
    ]
    conn = await driver_connection(session)
    await store.save_round_robin(conn, _counters(decided))
    await store.move_open_leads(
        conn,
        [
            (d.request.previous_owner_id, d.decision.owner.owner_id if d.decision.owner else None)
            for d in decided
        ],
    )
    payloads = [e.model_dump_json() for e in events]  # for the decision rows and the outbox
    await store.add_decisions(
        conn, [(d.decision, e, p) for d, e, p in zip(decided, events, payloads, strict=True)]
    )
    published: list[Outgoing] = []
    for d, event, payload in zip(decided, events, payloads, strict=True):
        topic = in_lane(LEADS_ROUTED, d.request.bulk)
        published.append(Outgoing(event, d.request.trace, topic, payload))
        if d.decision.owner is None and d.decision.rule == ruleset.rules[-1].name:
            alert = ev.RoutingAlert(
                lead_id=event.lead_id,
                revision=event.revision,
                kind="unassigned",
                queue=d.decision.queue or "unassigned",
                detail=event.explanation,
                raised_at=now,
            )
            published.append(Outgoing(alert, d.request.trace, topic))
    await outbox.add_all(session, published)
    await stages.on_routed_all(
        session,
        [
            stages.Routed(
                event,
                owner=d.decision.owner,
                team=_team_of(d),
                new_lead=d.request.revision == 1,
            )
            for d, event in zip(decided, events, strict=True)
        ],
        ruleset,
    )
    return events


def _team_of(decided: _Decided) -> Team | None:
    """The owner's team (its SLA), else the team that decided (a queue)."""
    owner = decided.decision.owner
    team = decided.teams.get(owner.team_id or "") if owner else None
    return team or decided.decision.team


def _counters(decided: Sequence[_Decided]) -> dict[tuple[str, str], int]:
    """The round-robin counters the batch moved, each at its last value."""
    written: dict[tuple[str, str], int] = {}
    for d in decided:
        written.update(d.decision.round_robin)
    return written


async def route_new_leads(
    session: AsyncSession,
    outbox: Outbox,
    leads: Sequence[tuple[LeadReceived, Mapping[str, str] | None]],
    *,
    ruleset: RuleSet | None = None,
    now: datetime | None = None,
    bulk: Iterable[UUID] = (),
) -> list[ev.LeadRouted]:
    """Revision 1 of each lead's routing, for the leads not routed before (the same lead
    re-published under another event id is skipped), in order; the ``bulk`` leads' in the
    bulk lane."""
    in_bulk = set(bulk)
    conn = await driver_connection(session)
    new = await store.add_leads(conn, [received for received, _ in leads])
    requests = []
    for received, trace in leads:
        if received.lead_id in new:  # once, however often it is in the batch
            new.discard(received.lead_id)
            requests.append(Request(received, 1, trace=trace, bulk=received.lead_id in in_bulk))
    return await route_all(session, outbox, requests, ruleset=ruleset, now=now)


async def route_new_lead(
    session: AsyncSession,
    outbox: Outbox,
    received: LeadReceived,
    *,
    ruleset: RuleSet | None = None,
    now: datetime | None = None,
) -> bool:
    """``route_new_leads`` for one lead: False when it was routed already."""
    return bool(
        await route_new_leads(session, outbox, [(received, None)], ruleset=ruleset, now=now)
    )


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
    bulk: bool = False,
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
    request = Request(
        LeadReceived.model_validate(row.received),
        latest.revision + 1,
        reason=reason,
        excluded=frozenset(row.rejected_by) | frozenset(also_excluded),
        previous_owner_id=latest.owner_id,
        bulk=bulk,
    )
    routed = await route_all(session, outbox, [request], ruleset=ruleset, now=now)
    return routed[0]


async def close(session: AsyncSession, lead_id: UUID) -> bool:
    """The lead is closed (won, lost, disqualified, rejected): release its owner's place
    against their capacity, once. False when unknown or already closed."""
    row = await store.lead_row(session, lead_id, lock=True)
    latest = await store.latest_decision(session, lead_id)
    if row is None or latest is None or row.closed:
        return False
    row.closed = True
    await store.move_open_leads(await driver_connection(session), [(latest.owner_id, None)])
    return True
