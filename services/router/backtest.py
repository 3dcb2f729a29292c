"""A routing backtest: what a draft rule set would have done to past leads, beside what
the router did, before anyone activates it. Nothing is written, no event is published,
no lock is taken: the leads are decided again by the router's own pure ``decide``, in a
read-only transaction, in the order they came in.

Each lead received in the window is decided as its first routing decision was (revision
1: no rejected owners excluded), on the workspace as it is now, as of the day it was
decided (out-of-office windows), with the round-robin counters rewound to the window's
start (they are pick counts per team and owner: today's minus the picks of every
decision of the window's leads and later ones) and carried from lead to lead.

Without a draft it is the reproducibility proof over the rule set in force: every lead
decided as it was (0 differences), or each difference named: a different owner, team,
queue, rule or flags is a change; the same round-robin rule in the same team picking
another member is a *rotation* difference (round robin depends on the order the leads
reached the router, which concurrent partitions may have interleaved otherwise than the
order they came in), counted apart.

Draft workspace changes (``WorkspaceChanges``) are laid over the workspace for the
backtest only: owners away for the whole window or gone, accounts handed to another owner,
territories covering other places.

The window's history is read in one read-only transaction through a server-side cursor
(one snapshot of it), ``CHUNK`` leads at a time, so memory stays bounded whatever
the window holds; ``progress`` is told after each chunk. The owners' open leads
(capacity) are today's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from services.router import settled, store
from services.router.domain.model import (
    Account,
    Coverage,
    Decision,
    Lead,
    OutOfOffice,
    Owner,
    Snapshot,
    Territory,
    rosters_of,
)
from services.router.domain.rules import decide
from services.router.domain.ruleset import RuleSet
from shared.db import SessionFactory, driver_connection

CHUNK = 5_000  # leads read and decided at a time
SAMPLES = 20

Progress = Callable[[int, int], Awaitable[None]]
"""Told (leads done, leads in the window) after each chunk."""


class UnknownInChanges(ValueError):
    """A draft change names an owner or account the workspace does not have (a 422)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class WorkspaceChanges:
    """What-ifs laid over the workspace for a backtest: nothing is changed for real."""

    # Out of office the whole window, as the router treats it: round robin skips them (an
    # account they own still names them).
    owners_away: frozenset[str] = frozenset()
    # Inactive (gone): their accounts' leads fall back to their manager, else their team.
    owners_inactive: frozenset[str] = frozenset()
    account_owners: Mapping[str, str] = field(default_factory=dict)  # account -> its new AE
    # A territory moved: the places it covers instead (its countries, regions, states).
    territories: Mapping[str, Territory] = field(default_factory=dict)

    def owners(self, owners: Mapping[str, Owner]) -> dict[str, Owner]:
        named = self.owners_away | self.owners_inactive | set(self.account_owners.values())
        for owner_id in sorted(named):
            if owner_id not in owners:
                raise UnknownInChanges("changes", f"no owner {owner_id}")
        away = (OutOfOffice(date.min, date.max),)
        changed = dict(owners)
        for owner_id in self.owners_away:
            changed[owner_id] = replace(changed[owner_id], out_of_office=away)
        for owner_id in self.owners_inactive:
            changed[owner_id] = replace(changed[owner_id], active=False)
        return changed

    def moved_territories(self, territories: Mapping[str, Territory]) -> dict[str, Territory]:
        for territory_id in sorted(self.territories):
            if territory_id not in territories:
                raise UnknownInChanges("changes.territories", f"no territory {territory_id}")
        moved = {
            territory_id: replace(
                territories[territory_id],
                countries=places.countries,
                regions=places.regions,
                states=places.states,
            )
            for territory_id, places in self.territories.items()
        }
        return {**territories, **moved}

    def accounts(self, accounts: Mapping[str, Account]) -> dict[str, Account]:
        return {
            account_id: replace(account, owner_id=self.account_owners[account_id])
            if account_id in self.account_owners
            else account
            for account_id, account in accounts.items()
        }


@dataclass(frozen=True)
class Side:
    owner_id: str | None
    team_id: str | None
    queue: str | None
    rule: str | None
    flags: tuple[str, ...]
    explanation: str
    trace: tuple[str, ...]  # each step: "rule ✓|· reason"

    def same_routing(self, other: Side) -> bool:
        return (self.owner_id, self.team_id, self.queue, self.rule, self.flags) == (
            other.owner_id,
            other.team_id,
            other.queue,
            other.rule,
            other.flags,
        )


@dataclass(frozen=True)
class LeadChange:
    lead_id: str
    received_at: datetime
    kind: str  # "changed", or "rotation" (the same round robin picked another member)
    before: Side
    after: Side


@dataclass
class RoutingBacktest:
    ruleset: str  # the version backtested
    window: tuple[date, date]
    leads: int = 0
    changed: int = 0  # another owner, team, queue, rule or flags
    rotation: int = 0  # the same round robin, another member
    by_rule: Counter[tuple[str, str]] = field(default_factory=Counter)  # (before, after)
    by_owner: Counter[tuple[str, str]] = field(default_factory=Counter)
    flags_gained: Counter[str] = field(default_factory=Counter)
    flags_lost: Counter[str] = field(default_factory=Counter)
    load: Counter[tuple[str, str]] = field(default_factory=Counter)  # (owner, day) after
    load_before: Counter[tuple[str, str]] = field(default_factory=Counter)  # as routed
    samples: list[LeadChange] = field(default_factory=list)

    @property
    def differences(self) -> int:
        return self.changed


def stored_side(event: Mapping[str, Any]) -> Side:
    """The stored decision's side, from its ``lead.routed`` data (read, not parsed whole)."""
    owner, team = event.get("owner") or {}, event.get("team") or {}
    return Side(
        owner.get("owner_id"),
        team.get("team_id"),
        event.get("queue"),
        event.get("rule"),
        tuple(event.get("flags") or ()),
        str(event.get("explanation") or ""),
        tuple(
            f"{s['rule']} {'✓' if s['matched'] else '·'} {s['reason']}"
            for s in event.get("trace") or ()
        ),
    )


def stored_lead(received: Mapping[str, Any]) -> Lead:
    """The router's view of a lead, from its stored ``lead.received`` data."""
    return Lead(
        lead_id=UUID(str(received["lead_id"])),
        email_domain=str(received["email_domain"]),
        free_mail=bool(received.get("free_mail", False)),
        received_at=datetime.fromisoformat(str(received["received_at"])),
        company=received.get("company"),
        country=received.get("country"),
    )


def decided_side(decision: Decision) -> Side:
    return Side(
        decision.owner.owner_id if decision.owner else None,
        decision.team.team_id if decision.team else None,
        decision.queue,
        decision.rule,
        tuple(decision.flags),
        decision.explanation,
        tuple(f"{s.rule} {'✓' if s.matched else '·'} {s.reason}" for s in decision.trace),
    )


def is_rotation(before: Side, after: Side) -> bool:
    return (
        before.rule == after.rule
        and before.team_id == after.team_id is not None
        and before.owner_id != after.owner_id
        and any(s.startswith("round_robin ✓") for s in before.trace)
        and any(s.startswith("round_robin ✓") for s in after.trace)
    )


async def backtest_routing(
    sessions: SessionFactory,
    ruleset: RuleSet | None,
    window: tuple[date, date],
    *,
    changes: WorkspaceChanges | None = None,
    progress: Progress | None = None,
    chunk: int = CHUNK,
) -> RoutingBacktest:
    """Decide the leads received in ``window`` (from, to: to excluded) again under
    ``ruleset`` (None: the active one) and ``changes`` to the workspace, and compare with
    their first decisions."""
    start = datetime.combine(window[0], time(), tzinfo=UTC)
    end = datetime.combine(window[1], time(), tzinfo=UTC)
    changes = changes or WorkspaceChanges()
    async with sessions() as session, session.begin():
        conn = await driver_connection(session)
        await conn.execute("SET TRANSACTION READ ONLY")  # a write here would be a bug
        counts = await settled.counts(session)
        space = await settled.settled(session, counts.version)
        rules = ruleset or space.ruleset
        owners = changes.owners(
            {
                owner_id: replace(owner, open_leads=counts.open_leads.get(owner_id, 0))
                for owner_id, owner in space.owners.items()
            }
        )
        territories = changes.moved_territories(space.territories)
        coverage, rosters = Coverage(territories), rosters_of(owners)
        picks = await store.round_robin_picks_since(conn, start)
        counters = {k: max(0, n - picks.get(k, 0)) for k, n in counts.round_robin.items()}
        total = await store.leads_received_between(conn, start, end)
        report = RoutingBacktest(rules.version, window, leads=total)
        done = 0
        async for history in store.first_decisions_between(conn, start, end, chunk):
            leads = [stored_lead(first.received) for first in history]
            accounts = await store.candidate_accounts_of(conn, leads)
            for lead, first in zip(leads, history, strict=True):
                snapshot = Snapshot(
                    accounts=changes.accounts(accounts.get(lead.lead_id, {})),
                    owners=owners,
                    teams=space.teams,
                    territories=territories,
                    round_robin=dict(counters),
                    as_of=first.decided_at,
                    coverage=coverage,
                    rosters=rosters,
                )
                decision = decide(lead, snapshot, rules)
                counters.update(decision.round_robin)
                _compare(report, lead, stored_side(first.event), decided_side(decision))
            done += len(history)
            if progress is not None:
                await progress(done, max(total, done))
    report.leads = done
    return report


def _compare(report: RoutingBacktest, lead: Lead, before: Side, after: Side) -> None:
    """Count the lead in the report: its load, and how its routing moved if it did."""
    day = f"{lead.received_at:%Y-%m-%d}"
    if after.owner_id:
        report.load[(after.owner_id, day)] += 1
    if before.owner_id:
        report.load_before[(before.owner_id, day)] += 1
    if before.same_routing(after):
        return
    kind = "rotation" if is_rotation(before, after) else "changed"
    if kind == "rotation":
        report.rotation += 1
    else:
        report.changed += 1
        report.by_rule[(before.rule or "-", after.rule or "-")] += 1
        report.flags_gained.update(set(after.flags) - set(before.flags))
        report.flags_lost.update(set(before.flags) - set(after.flags))
    report.by_owner[(before.owner_id or "-", after.owner_id or "-")] += 1
    if len(report.samples) < SAMPLES:
        report.samples.append(LeadChange(str(lead.lead_id), lead.received_at, kind, before, after))
