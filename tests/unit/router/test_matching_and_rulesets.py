"""Matching helpers and rule-set validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.router.domain.matching import AccountIndex, match
from services.router.domain.names import clean_company, name_block, registrable_domain
from services.router.domain.ruleset import Matching, parse_ruleset
from tests.unit.router.workspace import ACCOUNTS, RULESET, lead


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("mail.eu.walmart.com", "walmart.com"),
        ("WALMART.COM.", "walmart.com"),
        ("bbc.co.uk", "bbc.co.uk"),
        ("news.bbc.co.uk", "bbc.co.uk"),
        ("someone@sub.initech.com", "initech.com"),
    ],
)
def test_subdomains_fold_to_the_registrable_domain(host: str, expected: str) -> None:
    assert registrable_domain(host) == expected


@pytest.mark.parametrize(
    ("name", "cleaned", "block"),
    [
        ("Walmart Inc.", "walmart", "walm"),
        ("The Walmart Stores, Inc", "walmart stores", "walm"),
        ("Zürich Widgets AG", "zurich widgets", "zuri"),
        ("AT&T", "at and t", "at"),
        ("3M Company", "3m", "3m"),
    ],
)
def test_company_names_are_cleaned_and_blocked(name: str, cleaned: str, block: str) -> None:
    assert clean_company(name) == cleaned
    assert name_block(name) == block


def test_domain_match_beats_the_name_and_says_so() -> None:
    index = AccountIndex({a.account_id: a for a in ACCOUNTS})
    found, steps = match(lead("initech.com", "Walmart"), index, RULESET.matching)
    assert found is not None
    assert (found.account.account_id, found.method, found.score) == ("initech", "domain", 1.0)
    assert [s.rule for s in steps] == ["match.domain"]


@pytest.mark.parametrize(
    ("company", "threshold", "weak"),
    [("Walmartco", 90, True), ("Walmartco", 85, False), ("Walmart", 90, False)],
)
def test_the_threshold_decides_weak_or_strong(company: str, threshold: float, weak: bool) -> None:
    index = AccountIndex({a.account_id: a for a in ACCOUNTS})
    settings = Matching(threshold=threshold, weak_threshold=80)
    found, steps = match(lead("gmail.com", company, free_mail=True), index, settings)
    assert found is not None
    assert found.weak is weak
    assert steps[-1].matched is not weak


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("version: x\nrules: []", "at least 1"),
        ("version: x\nrules: [{kind: customer}]", "last rule must be 'unassigned'"),
        ("version: x\nrules: [{kind: unassigned, name: a}, {kind: unassigned}]", "at most one"),
        ("version: x\nrules: [{kind: unassigned}, {kind: unassigned}]", "unique"),
        ("version: x\nrules: [{kind: teleport}, {kind: unassigned}]", "kind"),
        ("version: x\nrules: [{kind: territory, name: a}, {kind: unassigned}]", "team"),
        ("version: 'bad version'\nrules: [{kind: unassigned}]", "version"),
        ("version: x\nmatching: {threshold: 70, weak_threshold: 80}\nrules: [{kind: unassigned}]",
         "weak_threshold"),
        ("- just a list", "mapping"),
        ("version: [unclosed", "not YAML"),
        ('version: x\ndescription: "a\\0b"\nrules: [{kind: unassigned}]', "NUL"),
        ("a: &x [1, 1]\nb: [*x, *x]\nversion: x\nrules: [{kind: unassigned}]", "aliases"),
    ],
)  # fmt: skip
def test_bad_rule_sets_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises((ValidationError, ValueError), match=reason):
        parse_ruleset(text)


def test_the_default_rule_set_is_in_the_issue_order() -> None:
    kinds = [r.kind for r in RULESET.rules]
    assert kinds[:3] == ["customer", "firm_assignment", "named_owner"]
    assert set(kinds[3:-1]) == {"territory"}
    assert kinds[-1] == "unassigned"
