# ruff: noqa: E501  (tables read best one case per line)
"""Properties (hypothesis): a decision is a pure function of (lead, snapshot, rule-set
version); weighted round robin gives each eligible owner a share within one of its
weight, through the whole engine as well as alone."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.domain.matching import AccountIndex
from services.router.domain.model import Lead, Owner, Team
from services.router.domain.round_robin import pick
from services.router.domain.rules import decide
from tests.unit.router.workspace import ACCOUNTS, OWNERS, RULESET, snapshot

DOMAINS = sorted(
    {d for a in ACCOUNTS for d in a.domains} | {"gmail.com", "x.org", "mail.walmart.com"}
)
NAMES = [a.name for a in ACCOUNTS] + ["Walmart Inc.", "Umbrella", "Initec", "Zzz"]

leads = st.builds(
    Lead,
    lead_id=st.uuids(),
    email_domain=st.sampled_from(DOMAINS),
    free_mail=st.booleans(),
    received_at=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    company=st.none() | st.sampled_from(NAMES) | st.text(max_size=30),
    country=st.none() | st.sampled_from(["US", "CA", "DE", "BR"]),
)
counters = st.dictionaries(
    st.tuples(st.sampled_from(["na-commercial", "na-enterprise", "emea"]), st.sampled_from([o.owner_id for o in OWNERS])),
    st.integers(-50, 50),
    max_size=10,
)  # fmt: skip


@given(
    lead=leads, rr=counters, excluded=st.frozensets(st.sampled_from([o.owner_id for o in OWNERS]))
)
@settings(max_examples=300, deadline=None)
def test_a_decision_is_a_pure_function_of_lead_snapshot_and_ruleset(
    lead: Lead, rr: dict[tuple[str, str], int], excluded: frozenset[str]
) -> None:
    world = snapshot(round_robin=rr, excluded_owner_ids=excluded)
    first = decide(lead, world, RULESET)
    again = decide(copy.deepcopy(lead), copy.deepcopy(world), RULESET, AccountIndex(world.accounts))
    assert first == again
    assert first.explanation == again.explanation
    assert world.round_robin == rr  # the input counters are never changed
    assert first.ruleset_version == RULESET.version
    assert first.trace
    assert (first.owner is None) == (first.queue is not None)
    if first.owner is not None:
        assert first.owner.active
        assert first.owner.owner_id not in excluded


@given(weights=st.lists(st.integers(1, 10), min_size=1, max_size=7), n=st.integers(1, 300))
@settings(max_examples=200, deadline=None)
def test_round_robin_shares_stay_within_one_of_the_weights(weights: list[int], n: int) -> None:
    owners = [Owner(f"o{i}", f"Owner {i}", "AE", weight=w) for i, w in enumerate(weights)]
    state: dict[tuple[str, str], int] = {}
    counts: Counter[str] = Counter()
    total = sum(weights)
    for done in range(1, n + 1):
        chosen = pick("t", owners, state)
        state.update(chosen.updates)
        counts[chosen.owner.owner_id] += 1
        for owner in owners:
            assert abs(counts[owner.owner_id] - done * owner.weight / total) <= 1


@given(weights=st.lists(st.integers(1, 5), min_size=1, max_size=5), n=st.integers(1, 60))
@settings(max_examples=50, deadline=None)
def test_the_engine_threads_round_robin_counters_fairly(weights: list[int], n: int) -> None:
    team = Team("na-commercial", "NA")
    owners = {
        f"o{i}": Owner(f"o{i}", f"Owner {i}", "AE", team_id=team.team_id, weight=w)
        for i, w in enumerate(weights)
    }
    state: dict[tuple[str, str], int] = {}
    counts: Counter[str] = Counter()
    start = datetime(2026, 11, 20, tzinfo=UTC)
    for i in range(n):
        lead = Lead(UUID(int=i), f"new{i}.com", False, start + timedelta(minutes=i), country="US")
        world = snapshot(owners=owners, teams={team.team_id: team}, round_robin=dict(state))
        decision = decide(lead, world, RULESET)
        assert decision.owner is not None
        state.update(decision.round_robin)
        counts[decision.owner.owner_id] += 1
    total = sum(weights)
    for owner in owners.values():
        assert abs(counts[owner.owner_id] - n * owner.weight / total) <= 1


def test_a_negative_counter_counts_as_no_picks() -> None:
    """Hypothesis found a hand-edited (negative) counter dividing by zero."""
    owners = [Owner(f"o{i}", f"O{i}", "AE", team_id="t") for i in range(2)]
    chosen = pick("t", owners, {("t", "o0"): -1, ("t", "o1"): 3})
    assert chosen.owner.owner_id == "o0"
