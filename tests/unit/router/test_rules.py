# ruff: noqa: E501  (tables read best one case per line)
"""The routing engine, table-driven: each rule of the default rule set, the account
hierarchy, free-mail and disposable addresses, ties, inactive, out-of-office and
at-capacity owners, and the sticking points of docs/design.md that touch routing (1-4, 10)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from services.router.domain.model import Lead, Snapshot
from services.router.domain.rules import decide
from tests.unit.router.workspace import RULESET, lead, snapshot

DNM = frozenset({"do_not_market", "share_with_firm"})


@dataclass(frozen=True)
class Case:
    name: str
    lead: Lead
    rule: str
    owner: str | None
    queue: str | None = None
    team: str | None = None
    flags: frozenset[str] = frozenset()
    firm: str | None = None
    sentence: str = ""  # a phrase the explanation must hold
    trace: str = ""  # a phrase some trace step must hold
    snapshot: Snapshot = field(default_factory=snapshot)


CASES = [
    Case("SP3: inbound lead on a firm's account goes to the owning AE", lead("mail.walmart.com"),
         "firm_assignment", "dana", flags=DNM, firm="acme-outreach",
         sentence="Routed to Dana Ortiz (AE) because account Walmart (matched by domain walmart.com) "
                  "is assigned to acme-outreach until 2026-12-31; marked do-not-market."),
    Case("SP1/2: any domain of the account is the firm's", lead("samsclub.com"),
         "firm_assignment", "dana", flags=DNM, firm="acme-outreach"),
    Case("SP10: the notice period is still in force", lead("notice.com"),
         "firm_assignment", "dana", flags=DNM, firm="acme-outreach", sentence="notice period until 2026-11-30"),
    Case("an expired assignment is not", lead("expired.com"), "named_owner", "lee",
         trace="not in force on 2026-11-20"),
    Case("an assignment not started yet is not", lead("future.com"), "named_owner", "lee"),
    Case("SP4: customer → account manager", lead("globex.com"), "customer", "sam",
         sentence="is a customer account"),
    Case("SP4: a firm without cross-sell is barred from a customer", lead("hooli.com"), "customer", "sam",
         trace="barred from customer accounts"),
    Case("SP4: cross-sell allowed: still the AM, firm noted", lead("piedpiper.com"), "customer", "sam",
         flags=DNM | {"firm_cross_sell"}, firm="acme-outreach", sentence="allows cross-sell"),
    Case("named owner", lead("initech.com"), "named_owner", "lee", sentence="is theirs"),
    Case("hierarchy: a child without owner goes to the parent's", lead("initechlabs.com"),
         "named_owner", "lee", sentence="its parent account Initech"),
    Case("inactive owner → their manager", lead("ivyco.com"), "named_owner", "max",
         sentence="Ivy Gone is inactive, so their manager", trace="manager Max Boss"),
    Case("inactive owner, no manager → team round robin skipping OOO and full", lead("tomco.com"),
         "named_owner", "gus", team="na-enterprise", trace="Eve Away out of office; Fay Full at capacity (3/3)"),
    Case("inactive owner, no manager, no team → later rules", lead("nobco.com"),
         "unassigned", None, queue="unassigned"),
    Case("territory and segment → enterprise team", lead("bigco.com"),
         "north-america-enterprise", "gus", team="na-enterprise", sentence="5000 employees"),
    Case("territory → commercial team, weighted round robin", lead("smallco.com"),
         "north-america", "lee", team="na-commercial", trace="Max Boss weight 0"),
    Case("territory table → EMEA", lead("euro.de"), "emea", "ned", team="emea"),
    Case("an unmatched lead's own country counts", lead("unknown.de", country="FR"), "emea", "ned"),
    Case("nothing matches → unassigned", lead("nowhere.io"), "unassigned", None, queue="unassigned",
         sentence="has no owner and no rule applied"),
    Case("free-mail → the company name", lead("gmail.com", "Walmart Inc.", free_mail=True),
         "firm_assignment", "dana", flags=DNM, firm="acme-outreach", sentence="matched by name, score 1.00"),
    Case("free-mail known to the router even if intake did not flag it", lead("gmail.com", "Initech"),
         "named_owner", "lee", trace="gmail.com is a free-mail domain"),
    Case("disposable → the company name", lead("mailinator.com", "Initech, LLC"), "named_owner", "lee",
         trace="disposable domain"),
    Case("a weak name match is reported, not used", lead("gmail.com", "Walmartco", free_mail=True),
         "unassigned", None, queue="unassigned", flags=frozenset({"weak_match"}),
         sentence="weak name match", trace="weak match"),
    Case("a tie between unrelated accounts matches nobody", lead("gmail.com", "Umbrella", free_mail=True),
         "unassigned", None, queue="unassigned", trace="ties between"),
    Case("a tie between parent and child: the parent", lead("gmail.com", "Stark Industries"),
         "named_owner", "dana"),
    Case("a domain on two unrelated accounts matches nobody", lead("shared.com"), "unassigned", None,
         queue="unassigned", trace="on several accounts"),
    Case("no domain match, no company", lead("gmail.com"), "unassigned", None, queue="unassigned",
         sentence="no account matched"),
    Case("an owner who rejected the lead is skipped: their team takes it", lead("initech.com"),
         "named_owner", "dana", team="na-commercial", trace="Lee Chen rejected this lead",
         snapshot=snapshot(excluded_owner_ids=frozenset({"lee"}))),
    Case("everyone away → the team's queue", lead("bigco.com"), "north-america-enterprise", None,
         queue="ent-queue", team="na-enterprise",
         snapshot=snapshot(excluded_owner_ids=frozenset({"gus"}))),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_routing(case: Case) -> None:
    decision = decide(case.lead, case.snapshot, RULESET)
    assert decision.rule == case.rule
    assert (decision.owner.owner_id if decision.owner else None) == case.owner
    assert decision.queue == case.queue
    if case.team:
        assert decision.team is not None
        assert decision.team.team_id == case.team
    assert set(decision.flags) == case.flags
    assert (decision.firm_assignment.firm_id if decision.firm_assignment else None) == case.firm
    assert decision.ruleset_version == RULESET.version
    assert case.sentence in decision.explanation, decision.explanation
    reasons = " | ".join(s.reason for s in decision.trace)
    assert case.trace in reasons, reasons
    assert decision.trace[0].rule == "match.domain"
    assert decision.trace[-1].rule in (case.rule, "round_robin")


def test_every_rule_tried_before_the_decider_is_in_the_trace_in_order() -> None:
    decision = decide(lead("nowhere.io"), snapshot(), RULESET)
    steps = [s for s in decision.trace if not s.rule.startswith("match.")]
    assert [s.rule for s in steps] == [r.name for r in RULESET.rules]
    assert [s.matched for s in steps] == [False] * (len(steps) - 1) + [True]
    assert decision.trace[0].matched  # the account matched, but nobody owns it


def test_round_robin_counters_are_returned_not_kept() -> None:
    first = decide(lead("smallco.com"), snapshot(), RULESET)
    again = decide(lead("smallco.com"), snapshot(), RULESET)
    assert first == again  # nothing remembered between calls
    assert first.owner is not None
    following = decide(lead("smallco.com"), snapshot(round_robin=first.round_robin), RULESET)
    assert following.owner is not None
    assert following.owner.owner_id != first.owner.owner_id or first.owner.weight > 1
