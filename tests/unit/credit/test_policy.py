"""Scenario tables for the credit policy, one per sticking point of DESIGN.md (2-10):
facts in, decision and reason out. Dates are event time; ``as_of`` is the clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.credit.domain.contract import Contract, Terms
from services.credit.domain.facts import (
    DisputeEvent,
    LeadFacts,
    MeetingEvent,
    Received,
    Routed,
    StatusEvent,
    Touch,
)
from services.credit.domain.policy import decide

T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
FIRM = "acme"
MEETING = UUID("00000000-0000-0000-0000-0000000000aa")


def days(n: float) -> timedelta:
    return timedelta(days=n)


def contract(**terms: object) -> Contract:
    return Contract(firm_id=FIRM, version=3, terms=Terms(**terms))


def facts(
    *,
    by_firm: bool = True,
    channel: str = "partner",
    fields: tuple[str, ...] = ("company", "title"),
    firm: str | None = FIRM,
    customer: bool = False,
    cross_sell: bool = False,
    in_notice: bool = False,
    touches: tuple[Touch, ...] = (),
    meetings: tuple[MeetingEvent, ...] = (),
    statuses: tuple[StatusEvent, ...] = (),
    disputes: tuple[DisputeEvent, ...] = (),
    received_at: datetime = T0,
) -> LeadFacts:
    return LeadFacts(
        lead_id=uuid4(),
        received=Received(
            received_at, channel, FIRM if by_firm else None, "walmart.com", frozenset(fields)
        ),
        routed=Routed(1, firm, date(2026, 1, 1), "Walmart", customer, cross_sell, in_notice),
        touches=touches,
        meetings=meetings,
        statuses=statuses,
        disputes=disputes,
    )


def meeting(
    status: str, at: datetime, *, reported: datetime | None = None, by: str = "firm"
) -> MeetingEvent:
    return MeetingEvent(MEETING, status, at, reported or at, at, by)


LEAD_ONLY = {"pays_for": "lead"}
MEETINGS_ONLY = {"pays_for": "meeting"}

SCENARIOS = [
    # (sticking point, facts, terms, as_of offset in days, state, amount, deciding rule)
    (
        "SP2 a firm-sourced lead counts",
        facts(),
        LEAD_ONLY,
        1,
        "credited",
        "150.00",
        "lead.credited",
    ),
    (
        "SP3 inbound with a recent touch",
        facts(by_firm=False, channel="web_form", touches=(Touch(FIRM, T0 - days(10)),)),
        LEAD_ONLY,
        1,
        "credited",
        "150.00",
        "inbound.touch",
    ),
    (
        "SP3 inbound, touch too old",
        facts(by_firm=False, channel="web_form", touches=(Touch(FIRM, T0 - days(45)),)),
        LEAD_ONLY,
        1,
        "not_eligible",
        "0.00",
        "inbound.no_touch",
    ),
    (
        "SP3 inbound, another firm's touch",
        facts(by_firm=False, channel="web_form", touches=(Touch("rival", T0 - days(2)),)),
        LEAD_ONLY,
        1,
        "not_eligible",
        "0.00",
        "inbound.no_touch",
    ),
    (
        "SP3 inbound not paid by contract",
        facts(by_firm=False, touches=(Touch(FIRM, T0 - days(1)),)),
        {**LEAD_ONLY, "inbound_credit": False},
        1,
        "not_eligible",
        "0.00",
        "inbound.no_credit",
    ),
    (
        "conflict: in-house sales touched it 20 days before the firm registered it",
        facts(touches=(Touch("in-house", T0 - days(20)),)),
        LEAD_ONLY,
        1,
        "not_eligible",
        "0.00",
        "conflict.prior_touch",
    ),
    (
        "conflict: another firm's touch outside the 60-day protection window",
        facts(touches=(Touch("rival", T0 - days(61)),)),
        LEAD_ONLY,
        1,
        "credited",
        "150.00",
        "lead.credited",
    ),
    (
        "conflict: another firm's touch after the firm registered it does not matter",
        facts(touches=(Touch("rival", T0 + days(1)),)),
        LEAD_ONLY,
        2,
        "credited",
        "150.00",
        "lead.credited",
    ),
    (
        "conflict: protection switched off by contract",
        facts(touches=(Touch("rival", T0 - days(5)),)),
        {**LEAD_ONLY, "protection_days": 0},
        1,
        "credited",
        "150.00",
        "lead.credited",
    ),
    (
        "SP4 customer excluded",
        facts(customer=True),
        LEAD_ONLY,
        1,
        "not_eligible",
        "0.00",
        "customer.excluded",
    ),
    (
        "SP4 customer, cross-sell allowed",
        facts(customer=True, cross_sell=True),
        {**LEAD_ONLY, "customers": "cross_sell_only"},
        1,
        "credited",
        "150.00",
        "customer.cross_sell",
    ),
    (
        "SP5 missing required field",
        facts(fields=("company",)),
        {**LEAD_ONLY, "required_fields": ["company", "title", "phone"]},
        1,
        "not_eligible",
        "0.00",
        "qualification.missing",
    ),
    (
        "SP5 rejected in the return window",
        facts(statuses=(StatusEvent("rejected", "not_icp", T0 + days(2)),)),
        LEAD_ONLY,
        3,
        "void",
        "0.00",
        "acceptance.rejected",
    ),
    (
        "SP5 rejected after the window",
        facts(statuses=(StatusEvent("rejected", "not_icp", T0 + days(20)),)),
        LEAD_ONLY,
        21,
        "credited",
        "150.00",
        "acceptance.late_rejection",
    ),
    (
        "SP5 'other' is no return",
        facts(statuses=(StatusEvent("rejected", "other", T0 + days(1)),)),
        LEAD_ONLY,
        2,
        "credited",
        "150.00",
        "acceptance.not_a_return",
    ),
    (
        "SP6 meeting held",
        facts(meetings=(meeting("booked", T0), meeting("held", T0 + days(3)))),
        MEETINGS_ONLY,
        4,
        "credited",
        "350.00",
        "meeting.held",
    ),
    (
        "SP6 no-show, still in the window",
        facts(meetings=(meeting("no_show", T0 + days(3)),)),
        MEETINGS_ONLY,
        5,
        "pending",
        "0.00",
        "meeting.awaiting_reschedule",
    ),
    (
        "SP6 no-show never rescheduled",
        facts(meetings=(meeting("no_show", T0 + days(3)),)),
        MEETINGS_ONLY,
        40,
        "void",
        "0.00",
        "meeting.not_held_in_window",
    ),
    (
        "SP6 no-show then held in window",
        facts(
            meetings=(
                meeting("no_show", T0 + days(3)),
                meeting("rescheduled_by_prospect", T0 + days(4)),
                meeting("held", T0 + days(10)),
            )
        ),
        MEETINGS_ONLY,
        40,
        "credited",
        "350.00",
        "meeting.held",
    ),
    (
        "SP6 no-show reported too late",
        facts(meetings=(meeting("no_show", T0 + days(3), reported=T0 + days(5)),)),
        MEETINGS_ONLY,
        40,
        "credited",
        "350.00",
        "meeting.no_show_reported_late",
    ),
    (
        "SP7 sales moved it, prospect walked",
        facts(meetings=(meeting("rescheduled_by_sales", T0 + days(3), by="sales"),)),
        MEETINGS_ONLY,
        40,
        "credited",
        "350.00",
        "meeting.moved_by_sales",
    ),
    (
        "SP8 sales flagged it bad",
        facts(
            meetings=(
                meeting("held", T0 + days(3)),
                meeting("flagged_bad", T0 + days(4), by="sales"),
            )
        ),
        MEETINGS_ONLY,
        5,
        "disputed",
        "0.00",
        "dispute.open",
    ),
    (
        "SP8 firm disputes, ops overturns",
        facts(
            statuses=(StatusEvent("rejected", "not_icp", T0 + days(1)),),
            disputes=(
                DisputeEvent("opened", T0 + days(2), "they are ICP"),
                DisputeEvent("overturned", T0 + days(3), "agreed"),
            ),
        ),
        LEAD_ONLY,
        4,
        "credited",
        "150.00",
        "dispute.overturned",
    ),
    (
        "SP8 firm disputes, ops upholds",
        facts(
            statuses=(StatusEvent("rejected", "not_icp", T0 + days(1)),),
            disputes=(
                DisputeEvent("opened", T0 + days(2), "they are ICP"),
                DisputeEvent("upheld", T0 + days(3), "not ICP"),
            ),
        ),
        LEAD_ONLY,
        4,
        "void",
        "0.00",
        "dispute.upheld",
    ),
    (
        "SP9 lead and meeting both paid",
        facts(meetings=(meeting("held", T0 + days(3)),)),
        {},
        4,
        "credited",
        "500.00",
        "meeting.price",
    ),
    (
        "SP10 lead in the notice period",
        facts(in_notice=True, received_at=datetime(2027, 1, 10, tzinfo=UTC)),
        {**LEAD_ONLY, "ends_on": date(2026, 12, 31)},
        1,
        "credited",
        "150.00",
        "lead.credited",
    ),
    (
        "SP10 lead after the notice period",
        facts(received_at=datetime(2027, 2, 10, tzinfo=UTC)),
        {**LEAD_ONLY, "ends_on": date(2026, 12, 31)},
        1,
        "not_eligible",
        "0.00",
        "contract.ended",
    ),
    (
        "no firm holds the account",
        facts(firm=None),
        LEAD_ONLY,
        1,
        "not_eligible",
        "0.00",
        "firm.assignment",
    ),
]


@pytest.mark.parametrize(
    ("case", "lead", "terms", "as_of_days", "state", "amount", "rule"),
    SCENARIOS,
    ids=[s[0] for s in SCENARIOS],
)
def test_sticking_points(  # noqa: PLR0917 - one parameter per table column
    case: str,
    lead: LeadFacts,
    terms: dict[str, object],
    as_of_days: float,
    state: str,
    amount: str,
    rule: str,
) -> None:
    received_at = lead.received.received_at if lead.received else T0
    decision = decide(lead, contract(**terms), as_of=received_at + days(as_of_days))
    assert decision.state == state, decision.reasons
    assert decision.amount == Decimal(amount)
    assert rule in [r.rule for r in decision.reasons], decision.reasons
    assert decision.contract_version == f"{FIRM}/v3" or state == "not_eligible"
    assert all(r.sentence.endswith(".") for r in decision.reasons)


def test_a_touch_logged_late_but_dated_before_the_lead_still_counts() -> None:
    lead = facts(by_firm=False, channel="webinar")
    assert decide(lead, contract(**LEAD_ONLY), as_of=T0).state == "not_eligible"
    late = replace(lead, touches=(Touch(FIRM, T0 - days(3)),))  # arrives later, dated before
    assert decide(late, contract(**LEAD_ONLY), as_of=T0 + days(5)).state == "credited"


def test_a_meeting_outcome_before_the_routing_decision_is_kept_until_it_comes() -> None:
    lead = facts(meetings=(meeting("held", T0 + days(1)),))
    early = replace(lead, routed=None)
    assert decide(early, contract(), as_of=T0 + days(2)).state == "pending"
    assert decide(lead, contract(), as_of=T0 + days(2)).state == "credited"


def test_volume_tiers_price_the_eleventh_meeting_of_the_month_lower() -> None:
    lead = facts(meetings=(meeting("held", T0 + days(1)),))
    assert decide(
        lead, contract(**MEETINGS_ONLY), as_of=T0 + days(2), nth_meeting_in_month=11
    ).amount == Decimal("150.00")


def test_no_contract_no_credit() -> None:
    assert decide(facts(), None, as_of=T0).state == "not_eligible"


EVENTS = [
    meeting("booked", T0),
    meeting("no_show", T0 + days(2)),
    meeting("rescheduled_by_prospect", T0 + days(3)),
    meeting("held", T0 + days(9)),
    meeting("flagged_bad", T0 + days(10), by="sales"),
]


@settings(max_examples=200, deadline=None)
@given(
    meetings=st.permutations(EVENTS).flatmap(lambda p: st.integers(0, len(p)).map(lambda n: p[:n])),
    touches=st.lists(st.sampled_from([Touch(FIRM, T0 - days(d)) for d in (1, 20, 40)]), max_size=3),
    statuses=st.lists(
        st.sampled_from(
            [
                StatusEvent("rejected", "not_icp", T0 + days(1)),
                StatusEvent("accepted", None, T0 + days(1)),
            ]
        ),
        max_size=2,
    ),
    by_firm=st.booleans(),
    seed=st.randoms(use_true_random=False),
)
def test_the_same_facts_in_any_order_give_the_same_decision(
    meetings: list[MeetingEvent],
    touches: list[Touch],
    statuses: list[StatusEvent],
    by_firm: bool,
    seed: object,
) -> None:
    lead = facts(
        by_firm=by_firm, meetings=tuple(meetings), touches=tuple(touches), statuses=tuple(statuses)
    )
    shuffled = list(lead.meetings), list(lead.touches), list(lead.statuses)
    for part in shuffled:
        seed.shuffle(part)  # type: ignore[attr-defined]
    other = replace(
        lead, meetings=tuple(shuffled[0]), touches=tuple(shuffled[1]), statuses=tuple(shuffled[2])
    )
    as_of = T0 + days(50)
    assert decide(lead, contract(), as_of=as_of) == decide(other, contract(), as_of=as_of)
