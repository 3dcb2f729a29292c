"""The routing engine: match the lead to an account, then try the rule set's rules in
order; the first that decides wins. ``decide`` is a pure function of (lead, snapshot,
rule set): same inputs, same decision, same trace.

Sticking points (docs/design.md) implemented here:
1. firm-assigned accounts → flagged ``do_not_market``;
2. leads on a firm's accounts → flagged ``share_with_firm`` (the firm's cadence is the
   contract's business, downstream);
3. an inbound lead on a firm-assigned account goes to the owning AE, not to the firm;
4. customer accounts go to their account manager; the firm is noted only when its
   contract allows cross-sell/up-sell, otherwise it is barred from the lead;
10. an assignment in its notice period is still in force.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from services.router.domain.hierarchy import effective
from services.router.domain.matching import AccountIndex, match
from services.router.domain.model import (
    Account,
    Decision,
    FirmAssignment,
    Lead,
    Match,
    Owner,
    Snapshot,
    Step,
    Team,
)
from services.router.domain.round_robin import eligibility, pick
from services.router.domain.ruleset import (
    CustomerRule,
    FirmAssignmentRule,
    NamedOwnerRule,
    RuleSet,
    Segment,
    TerritoryRule,
    UnassignedRule,
)

FIRM_FLAGS = ("do_not_market", "share_with_firm")


@dataclass
class _Context:
    """What the rules share while one lead is decided (local to one ``decide`` call)."""

    lead: Lead
    snapshot: Snapshot
    index: AccountIndex
    day: date  # the lead's day: firm assignments (sticking point 10)
    today: date  # the decision's day: out-of-office
    match: Match | None
    account: Account | None
    firm: FirmAssignment | None = None
    flags: list[str] = field(default_factory=list)
    trace: list[Step] = field(default_factory=list)


@dataclass(frozen=True)
class _Assignee:
    owner: Owner | None
    team: Team | None
    queue: str | None
    how: str  # the clause that says how the owner was found
    round_robin: dict[tuple[str, str], int] = field(default_factory=dict)


def decide(
    lead: Lead, snapshot: Snapshot, ruleset: RuleSet, index: AccountIndex | None = None
) -> Decision:
    """Route one lead. ``index`` may be passed when many leads share one snapshot."""
    index = index or AccountIndex(snapshot.accounts)
    found, steps = match(lead, index, ruleset.matching)
    account = found.account if found else None
    if found is not None and found.weak and not ruleset.matching.route_weak_matches:
        steps.append(
            Step("match.weak", False, f"weak match on {found.account.name} not used for ownership")
        )
        account = None
    today = (snapshot.as_of or lead.received_at).date()
    ctx = _Context(lead, snapshot, index, lead.received_at.date(), today, found, account)
    ctx.trace.extend(steps)
    if found is not None and found.weak:
        ctx.flags.append("weak_match")
    if account is not None:
        _note_firm(ctx, account)
    for rule in ruleset.rules:
        decision = _try(rule, ctx, ruleset.version)
        if decision is not None:
            return decision
    raise AssertionError("a validated rule set ends with 'unassigned'")  # pragma: no cover


def _note_firm(ctx: _Context, account: Account) -> None:
    found = effective(account, ctx.index, lambda a: a.firm_assignment)
    if found is None:
        return
    assignment, holder = found
    if assignment.in_force_on(ctx.day):
        ctx.firm = assignment
    else:
        via = "" if holder is account else f" (via parent {holder.name})"
        ctx.trace.append(
            Step(
                "firm.in_force",
                False,
                f"assignment to {assignment.firm_id}{via} not in force on {ctx.day}",
            )
        )


def _decision(ctx: _Context, rule: str, who: _Assignee, because: str, version: str) -> Decision:
    flags = tuple(dict.fromkeys(ctx.flags))
    return Decision(
        match=ctx.match,
        owner=who.owner,
        queue=who.queue,
        flags=flags,
        firm_assignment=ctx.firm,
        ruleset_version=version,
        trace=tuple(ctx.trace),
        team=who.team,
        rule=rule,
        round_robin=who.round_robin,
        because=because + (f"; {who.how}" if who.how else ""),
    )


def _try(
    rule: CustomerRule | FirmAssignmentRule | NamedOwnerRule | TerritoryRule | UnassignedRule,
    ctx: _Context,
    version: str,
) -> Decision | None:
    if isinstance(rule, CustomerRule):
        return _customer(rule, ctx, version)
    if isinstance(rule, FirmAssignmentRule):
        return _firm_assigned(rule, ctx, version)
    if isinstance(rule, NamedOwnerRule):
        return _named_owner(rule, ctx, version)
    if isinstance(rule, TerritoryRule):
        return _territory(rule, ctx, version)
    return _unassigned(rule, ctx, version)


def _matched(ctx: _Context) -> str:
    assert ctx.match is not None
    m = ctx.match
    how = f"domain {m.matched_on}" if m.method == "domain" else f"name, score {m.score:.2f}"
    return f"account {m.account.name} (matched by {how})"


def _customer(rule: CustomerRule, ctx: _Context, version: str) -> Decision | None:
    account = ctx.account
    if account is None or not account.customer:
        ctx.trace.append(
            Step(
                rule.name,
                False,
                "no account" if account is None else f"{account.name} is a prospect",
            )
        )
        return None
    found = effective(account, ctx.index, lambda a: a.account_manager_id)
    if found is None:
        ctx.trace.append(Step(rule.name, False, f"customer {account.name} has no account manager"))
        return None
    manager_id, holder = found
    who = _assign(manager_id, ctx)
    if who is None:
        ctx.trace.append(Step(rule.name, False, f"account manager {manager_id} is unknown"))
        return None
    if ctx.firm is not None:
        if ctx.firm.cross_sell:
            ctx.flags.extend([*FIRM_FLAGS, "firm_cross_sell"])
            firm_note = f"; firm {ctx.firm.firm_id} noted (its contract allows cross-sell)"
        else:
            ctx.trace.append(
                Step(
                    "firm.customer",
                    False,
                    f"firm {ctx.firm.firm_id} is barred from customer accounts",
                )
            )
            ctx.firm = None
            firm_note = ""
    else:
        firm_note = ""
    via = "" if holder is account else f" (via parent {holder.name})"
    ctx.trace.append(
        Step(rule.name, True, f"{account.name} is a customer; account manager {manager_id}{via}")
    )
    return _decision(
        ctx, rule.name, who, f"{_matched(ctx)} is a customer account{via}{firm_note}", version
    )


def _firm_assigned(rule: FirmAssignmentRule, ctx: _Context, version: str) -> Decision | None:
    account, firm = ctx.account, ctx.firm
    if account is None or firm is None:
        reason = "no account" if account is None else "no firm assignment in force"
        ctx.trace.append(Step(rule.name, False, reason))
        return None
    ctx.flags.extend(FIRM_FLAGS)  # whoever gets the lead, the account is the firm's (SP 1, 2)
    found = effective(account, ctx.index, lambda a: a.owner_id)
    who = _assign(found[0], ctx) if found else None
    if who is None:
        ctx.trace.append(
            Step(
                rule.name,
                False,
                f"{account.name} is assigned to {firm.firm_id} but has no owning AE",
            )
        )
        return None
    until = f" until {firm.ends_on.isoformat()}" if firm.ends_on else ""
    if firm.in_notice_on(ctx.day) and firm.notice_ends_on is not None:
        until = f" (in its notice period until {firm.notice_ends_on.isoformat()})"
    ctx.trace.append(
        Step(rule.name, True, f"{account.name} is assigned to firm {firm.firm_id} on {ctx.day}")
    )
    return _decision(
        ctx, rule.name, who, f"{_matched(ctx)} is assigned to {firm.firm_id}{until}", version
    )


def _named_owner(rule: NamedOwnerRule, ctx: _Context, version: str) -> Decision | None:
    account = ctx.account
    found = effective(account, ctx.index, lambda a: a.owner_id) if account else None
    if account is None or found is None:
        ctx.trace.append(
            Step(
                rule.name,
                False,
                "no account" if account is None else f"{account.name} has no owner",
            )
        )
        return None
    owner_id, holder = found
    who = _assign(owner_id, ctx)
    if who is None:
        ctx.trace.append(Step(rule.name, False, f"owner {owner_id} of {account.name} is unknown"))
        return None
    via = "" if holder is account else f" has no owner; its parent account {holder.name}"
    ctx.trace.append(Step(rule.name, True, f"{holder.name} is owned by {owner_id}"))
    return _decision(ctx, rule.name, who, f"{_matched(ctx)}{via} is theirs", version)


def _territory(rule: TerritoryRule, ctx: _Context, version: str) -> Decision | None:
    fits, where = _segment_fits(rule.when, ctx)
    if not fits:
        ctx.trace.append(Step(rule.name, False, where))
        return None
    team = ctx.snapshot.teams.get(rule.team)
    if team is None:
        ctx.trace.append(Step(rule.name, False, f"{where}, but team {rule.team} does not exist"))
        return None
    who = _round_robin(team, ctx)
    ctx.trace.append(Step(rule.name, True, f"{where} → team {team.name}"))
    subject = _matched(ctx) if ctx.match and ctx.account else "the lead"
    return _decision(ctx, rule.name, who, f"{subject} falls in {rule.name} ({where})", version)


def _unassigned(rule: UnassignedRule, ctx: _Context, version: str) -> Decision:
    ctx.trace.append(Step(rule.name, True, "no rule before this one decided"))
    if ctx.match is not None and ctx.match.weak:
        because = (
            f"the only candidate, account {ctx.match.account.name}, is a weak name match "
            f"(score {ctx.match.score:.2f})"
        )
    elif ctx.account is not None:
        because = f"{_matched(ctx)} has no owner and no rule applied"
    else:
        because = "no account matched and no rule applied"
    return _decision(ctx, rule.name, _Assignee(None, None, rule.queue, ""), because, version)


def _segment_fits(when: Segment, ctx: _Context) -> tuple[bool, str]:
    """Whether the lead's place and segment meet ``when``, and a phrase saying so."""
    source = ctx.account
    country = (source.country if source else None) or ctx.lead.country
    region = (source.region if source else None) or ctx.lead.region
    state = (source.state if source else None) or ctx.lead.state
    employees = source.employees if source else None
    industry = source.industry if source else None
    territories = ctx.snapshot.covering(country, region, state)
    checks: list[tuple[bool, str]] = []
    if when.territories:
        checks.append(
            (
                not territories.isdisjoint(when.territories),
                f"territory {'/'.join(sorted(territories)) or 'none'}",
            )
        )
    if when.countries:
        checks.append(
            (
                country is not None and country.upper() in when.countries,
                f"country {country or 'unknown'}",
            )
        )
    if when.regions:
        checks.append(
            (region is not None and region in when.regions, f"region {region or 'unknown'}")
        )
    if when.states:
        checks.append(
            (state is not None and state.upper() in when.states, f"state {state or 'unknown'}")
        )
    if when.industries:
        checks.append(
            (
                industry is not None and industry in when.industries,
                f"industry {industry or 'unknown'}",
            )
        )
    if when.min_employees is not None or when.max_employees is not None:
        low, high = when.min_employees or 0, when.max_employees
        ok = employees is not None and employees >= low and (high is None or employees <= high)
        checks.append((ok, f"{employees if employees is not None else 'unknown'} employees"))
    phrase = ", ".join(text for _, text in checks) or "no conditions"
    return all(ok for ok, _ in checks), phrase


def _assign(owner_id: str, ctx: _Context) -> _Assignee | None:
    """The named owner if they can take the lead; else their manager; else their team's
    round robin; else their team's queue. None when the owner is unknown."""
    owners = ctx.snapshot.owners
    owner = owners.get(owner_id)
    if owner is None:
        return None
    excluded = ctx.snapshot.excluded_owner_ids
    if owner.active and owner_id not in excluded:
        return _Assignee(owner, ctx.snapshot.teams.get(owner.team_id or ""), None, "")
    why = "is inactive" if not owner.active else "rejected this lead"
    manager = owners.get(owner.manager_id or "")
    if manager is not None and manager.active and manager.owner_id not in excluded:
        ctx.trace.append(
            Step("fallback.manager", True, f"{owner.name} {why}; manager {manager.name}")
        )
        return _Assignee(
            manager,
            ctx.snapshot.teams.get(manager.team_id or ""),
            None,
            f"{owner.name} {why}, so their manager",
        )
    team = ctx.snapshot.teams.get(owner.team_id or "")
    if team is not None:
        ctx.trace.append(Step("fallback.team", True, f"{owner.name} {why}; team {team.name}"))
        who = _round_robin(team, ctx)
        return replace(
            who,
            how=f"{owner.name} {why}, so team {team.name}" + (f"; {who.how}" if who.how else ""),
        )
    ctx.trace.append(
        Step("fallback", False, f"{owner.name} {why}, with no active manager and no team")
    )
    return None


def _round_robin(team: Team, ctx: _Context) -> _Assignee:
    members = ctx.snapshot.members(team.team_id)
    eligible, skipped = eligibility(members, ctx.today, ctx.snapshot.excluded_owner_ids)
    skipped_text = "; ".join(f"{s.owner.name} {s.why}" for s in skipped)
    if not eligible:
        ctx.trace.append(
            Step(
                "round_robin",
                False,
                f"nobody in {team.name} can take it"
                + (f" ({skipped_text})" if skipped_text else ""),
            )
        )
        return _Assignee(None, team, team.queue_name, f"nobody in team {team.name} can take it now")
    chosen = pick(team.team_id, eligible, ctx.snapshot.round_robin)
    reason = f"weighted round robin in {team.name} picked {chosen.owner.name}"
    ctx.trace.append(
        Step("round_robin", True, reason + (f" (skipped: {skipped_text})" if skipped_text else ""))
    )
    return _Assignee(chosen.owner, team, None, f"round robin in team {team.name}", chosen.updates)
