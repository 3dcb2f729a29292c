"""The lifecycle table and its two functions: strict transitions (the API) and lenient
recording of outside facts (meetings, other systems)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.router.domain.lifecycle import (
    CLOSING_STAGES,
    MEETING_STAGES,
    RANK,
    STAGES,
    TRANSITIONS,
    IllegalTransition,
    Stage,
    awaits_acceptance,
    closes,
    record,
    reroutes,
    transition,
)


def test_the_table_covers_every_stage_and_names_only_stages() -> None:
    assert set(TRANSITIONS) == set(STAGES) == set(RANK)
    for targets in TRANSITIONS.values():
        assert targets <= set(STAGES)


@pytest.mark.parametrize(
    ("path"),
    [
        ["received", "routed", "accepted", "meeting_booked", "meeting_held", "qualified",
         "opportunity", "closed_won"],
        ["received", "routed", "accepted", "meeting_booked", "no_show", "rescheduled",
         "meeting_held", "disqualified"],
        ["received", "routed", "rejected", "routed", "accepted", "qualified", "opportunity",
         "closed_lost"],
        ["received", "routed", "routed", "accepted", "disqualified"],
    ],
)  # fmt: skip
def test_the_funnel_paths_are_allowed(path: list[Stage]) -> None:
    stage = path[0]
    for wanted in path[1:]:
        stage = transition(stage, wanted)
    assert stage == path[-1]


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        ("received", "accepted"),  # not routed yet
        ("routed", "meeting_held"),
        ("accepted", "accepted"),
        ("accepted", "rejected"),
        ("closed_won", "closed_lost"),
        ("disqualified", "qualified"),
        ("meeting_booked", "qualified"),
    ],
)
def test_an_illegal_move_says_where_the_lead_is_and_what_is_allowed(
    current: Stage, wanted: Stage
) -> None:
    with pytest.raises(IllegalTransition) as caught:
        transition(current, wanted)
    assert (caught.value.current, caught.value.wanted) == (current, wanted)
    assert caught.value.allowed == sorted(TRANSITIONS[current])
    assert f"stage {current} cannot move to {wanted}" in str(caught.value)


def test_final_stages_allow_nothing() -> None:
    assert {s for s in STAGES if not TRANSITIONS[s]} == {
        "disqualified",
        "closed_won",
        "closed_lost",
    }
    with pytest.raises(IllegalTransition, match="it is final"):
        transition("closed_won", "opportunity")


@pytest.mark.parametrize(
    ("current", "fact", "stage", "in_order"),
    [
        ("accepted", "meeting_booked", "meeting_booked", True),
        ("routed", "meeting_held", "meeting_held", False),  # held before anyone accepted
        ("meeting_held", "meeting_booked", "meeting_held", False),  # a late booking report
        ("received", "meeting_booked", "meeting_booked", False),  # before the router saw it
        ("closed_won", "no_show", "closed_won", False),
        ("no_show", "rescheduled", "rescheduled", True),
    ],
)
def test_outside_facts_are_recorded_leniently_and_only_move_forward(
    current: Stage, fact: Stage, stage: Stage, in_order: bool
) -> None:
    recorded = record(current, fact)
    assert (recorded.stage, recorded.in_order) == (stage, in_order)


def test_meeting_statuses_map_to_stages_or_to_the_history_only() -> None:
    assert MEETING_STAGES["booked"] == "meeting_booked"
    assert MEETING_STAGES["rescheduled_by_sales"] == "rescheduled"
    assert MEETING_STAGES["flagged_bad"] is None
    assert {s for s in MEETING_STAGES.values() if s} <= set(STAGES)


def test_only_a_routed_lead_awaits_acceptance() -> None:
    assert [s for s in STAGES if awaits_acceptance(s)] == ["routed"]


@pytest.mark.parametrize(
    ("stage", "reason_code", "rerouted", "closed"),
    [
        ("rejected", "wrong_owner", True, False),  # to someone else: still an open lead
        ("rejected", "not_icp", False, True),
        ("rejected", "other", False, True),
        ("rejected", None, False, True),
        ("disqualified", None, False, True),
        ("closed_won", None, False, True),
        ("closed_lost", None, False, True),
        ("accepted", None, False, False),
        ("qualified", None, False, False),
        ("opportunity", None, False, False),
        ("meeting_held", None, False, False),
        ("routed", "wrong_owner", False, False),  # only a rejection routes a lead again
    ],
)
def test_a_move_reroutes_the_lead_or_releases_its_owner_or_neither(
    stage: Stage, reason_code: str | None, rerouted: bool, closed: bool
) -> None:
    assert (reroutes(stage, reason_code), closes(stage, reason_code)) == (rerouted, closed)


@given(st.sampled_from(STAGES), st.sampled_from([None, "wrong_owner", "not_icp", "other"]))
def test_no_move_both_reroutes_and_closes_and_only_closing_stages_close(
    stage: Stage, reason_code: str | None
) -> None:
    assert not (reroutes(stage, reason_code) and closes(stage, reason_code))
    assert closes(stage, reason_code) <= (stage in CLOSING_STAGES)
    # The stages the table ends in always release the owner.
    assert closes(stage, reason_code) or bool(TRANSITIONS[stage])


@given(st.lists(st.integers(min_value=0, max_value=100), max_size=40))
def test_no_sequence_of_allowed_transitions_escapes_the_table(choices: list[int]) -> None:
    stage: Stage = "received"
    for choice in choices:
        options = sorted(TRANSITIONS[stage])
        if not options:
            break
        wanted = options[choice % len(options)]
        stage = transition(stage, wanted)
        assert stage in STAGES
    assert stage in STAGES


@given(st.lists(st.sampled_from(STAGES), max_size=40))
def test_any_requested_sequence_either_moves_along_the_table_or_is_refused(
    wanted: list[Stage],
) -> None:
    stage: Stage = "received"
    for target in wanted:
        try:
            moved = transition(stage, target)
        except IllegalTransition:
            assert target not in TRANSITIONS[stage]
            continue
        assert moved == target
        assert target in TRANSITIONS[stage]
        stage = moved


@given(st.sampled_from(STAGES), st.lists(st.sampled_from(STAGES), max_size=30))
def test_lenient_recording_never_moves_a_lead_backwards(start: Stage, facts: list[Stage]) -> None:
    stage = start
    for fact in facts:
        after = record(stage, fact).stage
        assert after in STAGES
        assert RANK[after] >= RANK[stage] or after in TRANSITIONS[stage]
        stage = after
