"""Scenario tables for the credit policy, one per sticking point of docs/design.md (2-10):
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
from services.credit.domain.policy import decide, inbound_claim

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
    status: str,
    at: datetime,
    *,
    reported: datetime | None = None,
    by: str = "firm",
    scheduled: datetime | None = None,
) -> MeetingEvent:
    return MeetingEvent(MEETING, status, at, reported or at, scheduled or at, by)


ACCEPTED = StatusEvent("accepted", None, T0 + days(1))


LEAD_ONLY = {"pays_for": "lead"}
MEETINGS_ONLY = {"pays_for": "meeting"}

SCENARIOS = [
    # (sticking point, facts, terms, as_of offset in days, state, amount, deciding rule)
    (
        "SP2 a firm-sourced lead counts",
        facts(),
        LEAD_ONLY,
        8,
        "credited",
        "150.00",
        "lead.credited",
    ),
    (
        "SP3 inbound with a recent touch",
        facts(by_firm=False, channel="web_form", touches=(Touch(FIRM, T0 - days(10)),)),
        LEAD_ONLY,
        8,
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
        "a rival firm's touch 20 days before the firm registered it does not matter",
        facts(touches=(Touch("rival", T0 - days(20)),)),
        LEAD_ONLY,
        8,
        "credited",
        "150.00",
        "lead.credited",
    ),
    (
        "a rival firm's touch on an inbound lead neither earns nor blocks it",
        facts(
            by_firm=False,
            channel="web_form",
            touches=(Touch("rival", T0 - days(3)), Touch(FIRM, T0 - days(10))),
        ),
        LEAD_ONLY,
        8,
        "credited",
        "150.00",
        "inbound.touch",
    ),
    (
        "SP3 an imported list is not inbound interest (default channels)",
        facts(by_firm=False, channel="import", touches=(Touch(FIRM, T0 - days(1)),)),
        LEAD_ONLY,
        8,
        "not_eligible",
        "0.00",
        "inbound.channel",
    ),
    (
        "SP3 inbound from a source the contract does not credit",
        facts(by_firm=False, channel="web_form", touches=(Touch(FIRM, T0 - days(1)),)),
        {**LEAD_ONLY, "inbound_sources": ["webinar"]},
        8,
        "not_eligible",
        "0.00",
        "inbound.source",
    ),
    (
        "SP3 a contract may credit imported lists",
        facts(by_firm=False, channel="import", touches=(Touch(FIRM, T0 - days(1)),)),
        {**LEAD_ONLY, "inbound_channels": ["import"]},
        8,
        "credited",
        "150.00",
        "inbound.touch",
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
        8,
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
        8,
        "credited",
        "500.00",
        "meeting.price",
    ),
    (
        "SP10 lead in the notice period",
        facts(in_notice=True, received_at=datetime(2027, 1, 10, tzinfo=UTC)),
        {**LEAD_ONLY, "ends_on": date(2026, 12, 31)},
        10,
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
        "SP5 sales accepted the lead",
        facts(statuses=(ACCEPTED,)),
        LEAD_ONLY,
        2,
        "credited",
        "150.00",
        "acceptance.accepted",
    ),
    (
        "SP5 no answer yet, inside the 5 business days",
        facts(),
        LEAD_ONLY,
        2,
        "pending",
        "0.00",
        "acceptance.awaiting",
    ),
    (
        "SP5 no answer in 5 business days: accepted by silence",
        facts(),
        LEAD_ONLY,
        8,
        "credited",
        "150.00",
        "acceptance.by_silence",
    ),
    (
        "SP5 no answer in 5 business days, and silence means rejected",
        facts(),
        {**LEAD_ONLY, "silence_means": "rejected"},
        8,
        "void",
        "0.00",
        "acceptance.not_accepted",
    ),
    (
        "SP5 silence means rejected, but sales accepted late",
        facts(statuses=(StatusEvent("accepted", None, T0 + days(9)),)),
        {**LEAD_ONLY, "silence_means": "rejected"},
        9,
        "credited",
        "150.00",
        "acceptance.accepted",
    ),
    (
        "SP5 a contract without an acceptance step counts the lead on arrival",
        facts(),
        {**LEAD_ONLY, "acceptance_business_days": 0},
        0,
        "credited",
        "150.00",
        "return.open",
    ),
    (
        "SP5 the return window closed: the credit is final",
        facts(statuses=(ACCEPTED,)),
        LEAD_ONLY,
        11,
        "credited",
        "150.00",
        "return.closed",
    ),
    (
        "SP5 accepted, then returned inside the window",
        facts(statuses=(ACCEPTED, StatusEvent("rejected", "contact_left_company", T0 + days(6)))),
        LEAD_ONLY,
        7,
        "void",
        "0.00",
        "acceptance.rejected",
    ),
    (
        "SP6 meeting time passed, no no-show reported in 24 hours: held",
        facts(meetings=(meeting("booked", T0, scheduled=T0 + days(1)),)),
        MEETINGS_ONLY,
        2.5,
        "credited",
        "350.00",
        "meeting.unreported_counts_as_held",
    ),
    (
        "SP6 meeting time passed, still inside the 24 hours to report a no-show",
        facts(meetings=(meeting("booked", T0, scheduled=T0 + days(1)),)),
        MEETINGS_ONLY,
        1.5,
        "pending",
        "0.00",
        "meeting.scheduled",
    ),
    (
        "SP6 prospect moved it to a new time in the window; nothing reported after it",
        facts(
            meetings=(
                meeting("booked", T0, scheduled=T0 + days(2)),
                meeting("rescheduled_by_prospect", T0 + days(1), scheduled=T0 + days(9)),
            )
        ),
        MEETINGS_ONLY,
        11,
        "credited",
        "350.00",
        "meeting.unreported_counts_as_held",
    ),
    (
        "SP6 prospect moved it without a new time: not held in the window",
        facts(
            meetings=(
                meeting("booked", T0, scheduled=T0 + days(2)),
                meeting("rescheduled_by_prospect", T0 + days(1), scheduled=T0 + days(2)),
            )
        ),
        MEETINGS_ONLY,
        40,
        "void",
        "0.00",
        "meeting.not_held_in_window",
    ),
    (
        "SP6 held, inside the holding period",
        facts(meetings=(meeting("held", T0 + days(3)),)),
        MEETINGS_ONLY,
        4,
        "credited",
        "350.00",
        "payment.holding",
    ),
    (
        "SP6 held, holding period over: payable",
        facts(meetings=(meeting("held", T0 + days(3)),)),
        MEETINGS_ONLY,
        34,
        "credited",
        "350.00",
        "payment.payable",
    ),
    (
        "no firm holds the account",
        facts(firm=None, by_firm=False, channel="web_form"),
        LEAD_ONLY,
        1,
        "not_eligible",
        "0.00",
        "firm.assignment",
    ),
    (
        "the firm submitted a lead on an account not assigned to it",
        facts(firm=None),
        LEAD_ONLY,
        1,
        "not_eligible",
        "0.00",
        "firm.not_assigned",
    ),
    (
        "SP7 sales moved it, then the prospect cancelled: the firm keeps the credit",
        facts(
            meetings=(
                meeting("booked", T0, scheduled=T0 + days(2)),
                meeting("rescheduled_by_sales", T0 + days(1), by="sales", scheduled=T0 + days(5)),
                meeting("cancelled_by_prospect", T0 + days(4)),
            )
        ),
        MEETINGS_ONLY,
        40,
        "credited",
        "350.00",
        "meeting.moved_by_sales",
    ),
    (
        "SP7 a contract where a prospect's miss after sales' move counts",
        facts(
            meetings=(
                meeting("booked", T0, scheduled=T0 + days(2)),
                meeting("rescheduled_by_sales", T0 + days(1), by="sales", scheduled=T0 + days(5)),
                meeting("cancelled_by_prospect", T0 + days(4)),
            )
        ),
        {**MEETINGS_ONLY, "sales_move_keeps_credit": False},
        10,
        "pending",
        "0.00",
        "meeting.awaiting_reschedule",
    ),
    (
        "SP6 a booking reported after the meeting still opens its history",
        facts(
            meetings=(
                meeting("no_show", T0 + days(2), scheduled=T0 + days(2)),
                meeting("booked", T0 + days(3), scheduled=T0 + days(2)),
            )
        ),
        MEETINGS_ONLY,
        5,
        "pending",
        "0.00",
        "meeting.awaiting_reschedule",
    ),
    (
        "SP8 sales flagged it bad, ops upheld the flag",
        facts(
            meetings=(
                meeting("held", T0 + days(3)),
                meeting("flagged_bad", T0 + days(4), by="sales"),
            ),
            disputes=(DisputeEvent("upheld", T0 + days(5), "no decision maker"),),
        ),
        MEETINGS_ONLY,
        6,
        "void",
        "0.00",
        "meeting.flag_upheld",
    ),
    (
        "SP8 sales flagged it bad, ops overturned the flag",
        facts(
            meetings=(
                meeting("held", T0 + days(3)),
                meeting("flagged_bad", T0 + days(4), by="sales"),
            ),
            disputes=(DisputeEvent("overturned", T0 + days(5), "a fine meeting"),),
        ),
        MEETINGS_ONLY,
        6,
        "credited",
        "350.00",
        "meeting.flag_overturned",
    ),
    (
        "SP8 flagged again after ops settled: disputed again",
        facts(
            meetings=(
                meeting("held", T0 + days(3)),
                meeting("flagged_bad", T0 + days(4), by="sales"),
                meeting("flagged_bad", T0 + days(6), by="sales"),
            ),
            disputes=(DisputeEvent("overturned", T0 + days(5), "a fine meeting"),),
        ),
        MEETINGS_ONLY,
        7,
        "disputed",
        "0.00",
        "meeting.flagged_bad",
    ),
    (
        "SP8 the firm disputes a not-eligible decision",
        facts(fields=(), disputes=(DisputeEvent("opened", T0 + days(1), "it has a company"),)),
        LEAD_ONLY,
        3,
        "disputed",
        "0.00",
        "dispute.open",
    ),
    (
        "SP8 a not-eligible decision disputed and overturned: credited",
        facts(
            fields=(),
            disputes=(
                DisputeEvent("opened", T0 + days(1), "the company is on the form"),
                DisputeEvent("overturned", T0 + days(2), "agreed", "ops"),
            ),
        ),
        LEAD_ONLY,
        3,
        "credited",
        "150.00",
        "dispute.overturned",
    ),
    (
        "SP8 a not-eligible decision disputed and upheld: it stands",
        facts(
            fields=(),
            disputes=(
                DisputeEvent("opened", T0 + days(1), "the company is on the form"),
                DisputeEvent("upheld", T0 + days(2), "it is not", "ops"),
            ),
        ),
        LEAD_ONLY,
        3,
        "not_eligible",
        "0.00",
        "dispute.upheld",
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
    lead = facts(by_firm=False, channel="web_form")
    assert decide(lead, contract(**LEAD_ONLY), as_of=T0).state == "not_eligible"
    late = replace(lead, touches=(Touch(FIRM, T0 - days(3)),))  # arrives later, dated before
    assert decide(late, contract(**LEAD_ONLY), as_of=T0 + days(8)).state == "credited"


def test_a_meeting_outcome_before_the_routing_decision_is_kept_until_it_comes() -> None:
    lead = facts(meetings=(meeting("held", T0 + days(1)),))
    early = replace(lead, routed=None)
    assert decide(early, contract(), as_of=T0 + days(2)).state == "pending"
    assert decide(lead, contract(), as_of=T0 + days(2)).state == "credited"


def earlier_meetings(n: int, before: datetime) -> dict[str, list[tuple[datetime, str]]]:
    """The firm's ``n`` meetings credited on other leads that month, before ``before``."""
    places = [(before - timedelta(minutes=n - i), f"other-{i:02d}") for i in range(n)]
    return {f"{before:%Y-%m}": places}


def test_volume_tiers_price_the_eleventh_meeting_of_the_month_lower() -> None:
    lead = facts(meetings=(meeting("held", T0 + days(1)),))
    decision = decide(
        lead,
        contract(**MEETINGS_ONLY),
        as_of=T0 + days(2),
        other_meetings=earlier_meetings(10, T0 + days(1)),
    )
    assert decision.amount == Decimal("150.00")
    assert "The meeting earns 150.00 USD, the 11th credited in 2026-11." in [
        r.sentence for r in decision.reasons
    ]
    assert decision.meetings_credited == ((T0 + days(1), str(MEETING)),)


def test_a_meetings_tier_is_its_rank_in_event_time_not_what_came_later() -> None:
    """Ten of the firm's meetings credited later that month do not reprice this one when
    the lead is decided again after them (a late fact, a deadline passing)."""
    lead = facts(meetings=(meeting("held", T0 + days(1)),))
    later = {"2026-11": [(T0 + days(3) + timedelta(minutes=i), f"later-{i}") for i in range(10)]}
    again = decide(lead, contract(**MEETINGS_ONLY), as_of=T0 + days(20), other_meetings=later)
    assert again.amount == Decimal("350.00")
    # the month's count starts again in December
    december = facts(meetings=(meeting("held", datetime(2026, 12, 1, 9, tzinfo=UTC)),))
    assert decide(
        december,
        contract(**MEETINGS_ONLY),
        as_of=datetime(2026, 12, 2, tzinfo=UTC),
        other_meetings=earlier_meetings(10, T0 + days(25)),
    ).amount == Decimal("350.00")


def test_a_leads_own_meetings_rank_one_after_the_other() -> None:
    """A lead's second meeting of the month is the tenth's successor, priced at the next
    tier; both take their places."""
    second = UUID("00000000-0000-0000-0000-0000000000bb")
    lead = facts(
        meetings=(
            meeting("held", T0 + days(1)),
            MeetingEvent(second, "held", T0 + days(2), T0 + days(2), T0 + days(2), "firm"),
        )
    )
    decision = decide(
        lead,
        contract(**MEETINGS_ONLY),
        as_of=T0 + days(3),
        other_meetings=earlier_meetings(9, T0 + days(1)),
    )
    assert decision.amount == Decimal("350.00") + Decimal("150.00")
    assert [at for at, _ in decision.meetings_credited] == [T0 + days(1), T0 + days(2)]


def test_a_decision_not_credited_holds_no_meeting_place() -> None:
    lead = facts(meetings=(meeting("held", T0 + days(1)), meeting("flagged_bad", T0 + days(2))))
    decision = decide(lead, contract(**MEETINGS_ONLY), as_of=T0 + days(3))
    assert decision.state == "disputed"
    assert decision.meetings_credited == ()


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


RETURNED = StatusEvent("rejected", "not_icp", T0 + days(2))


@pytest.mark.parametrize(
    ("cap", "returns_before", "state", "rule"),
    [
        (None, 40, "void", "acceptance.rejected"),  # no cap
        (3, 2, "void", "acceptance.rejected"),  # the third return of the month
        (3, 3, "credited", "acceptance.return_cap"),  # the fourth: beyond the cap
        (0, 0, "credited", "acceptance.return_cap"),  # no returns allowed at all
    ],
)
def test_returns_beyond_the_months_cap_do_not_void_credit(
    cap: int | None, returns_before: int, state: str, rule: str
) -> None:
    lead = facts(statuses=(RETURNED,))
    terms = contract(**LEAD_ONLY, return_cap_per_month=cap)
    decision = decide(lead, terms, as_of=T0 + days(3), returns_before=returns_before)
    assert decision.state == state
    assert rule in [r.rule for r in decision.reasons]
    assert decision.return_claimed_at == RETURNED.occurred_at  # counted either way


def test_a_return_cap_sentence_names_the_cap_and_month() -> None:
    decision = decide(
        facts(statuses=(RETURNED,)),
        contract(**LEAD_ONLY, return_cap_per_month=3),
        as_of=T0 + days(3),
        returns_before=5,
    )
    capped = next(r for r in decision.reasons if r.rule == "acceptance.return_cap")
    assert "3 returns" in capped.sentence
    assert "2026-11" in capped.sentence


def test_a_late_or_non_voiding_rejection_is_no_return_claim() -> None:
    for status in (
        StatusEvent("rejected", "not_icp", T0 + days(20)),
        StatusEvent("rejected", "other", T0 + days(1)),
    ):
        decision = decide(facts(statuses=(status,)), contract(**LEAD_ONLY), as_of=T0 + days(21))
        assert decision.return_claimed_at is None


def test_the_acceptance_deadline_skips_a_holiday_in_the_contracts_country() -> None:
    wed = datetime(2026, 11, 25, 15, tzinfo=UTC)  # Thanksgiving is on Thursday
    lead = facts(received_at=wed)
    terms = {**LEAD_ONLY, "acceptance_business_days": 2}
    us = decide(lead, contract(**terms), as_of=wed)
    de = decide(lead, contract(**terms, country="DE"), as_of=wed)
    assert us.next_review_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert de.next_review_at == datetime(2026, 11, 28, tzinfo=UTC)
    still = decide(lead, contract(**terms), as_of=datetime(2026, 11, 30, 23, 59, tzinfo=UTC))
    assert still.state == "pending"
    silent = decide(lead, contract(**terms), as_of=datetime(2026, 12, 1, tzinfo=UTC))
    assert silent.state == "credited"
    assert "acceptance.by_silence" in [r.rule for r in silent.reasons]


def test_holding_period_sets_when_a_credit_is_payable() -> None:
    lead = facts(statuses=(ACCEPTED,))
    early = decide(lead, contract(**LEAD_ONLY, holding_days=30), as_of=T0 + days(2))
    assert early.payable_on == (T0 + days(31)).date()
    assert early.next_review_at == T0 + days(10)  # the return window closes first
    after_returns = decide(lead, contract(**LEAD_ONLY, holding_days=30), as_of=T0 + days(10))
    assert after_returns.next_review_at == T0 + days(31)
    paid = decide(lead, contract(**LEAD_ONLY, holding_days=30), as_of=T0 + days(31))
    assert paid.next_review_at is None
    assert "payment.payable" in [r.rule for r in paid.reasons]
    assert decide(facts(), contract(**LEAD_ONLY), as_of=T0).payable_on is None  # pending


def test_a_final_decision_needs_no_review() -> None:
    for lead, terms in (
        (facts(firm=None), LEAD_ONLY),
        (facts(statuses=(RETURNED,)), LEAD_ONLY),
        (facts(meetings=(meeting("no_show", T0 + days(3)),)), MEETINGS_ONLY),
    ):
        assert decide(lead, contract(**terms), as_of=T0 + days(60)).next_review_at is None


STATUSES = [
    ACCEPTED,
    StatusEvent("accepted", None, T0 + days(12)),
    RETURNED,
    StatusEvent("rejected", "other", T0 + days(3)),
    StatusEvent("rejected", "duplicate", T0 + days(15)),
]
MEETING_EVENTS = [
    meeting("booked", T0, scheduled=T0 + days(4)),
    meeting("no_show", T0 + days(4)),
    meeting("rescheduled_by_prospect", T0 + days(5), scheduled=T0 + days(20)),
    meeting("rescheduled_by_sales", T0 + days(6), by="sales"),
    meeting("held", T0 + days(9)),
]
TERMS = st.fixed_dictionaries(
    {},
    optional={
        "pays_for": st.sampled_from(["lead", "meeting", "both"]),
        "acceptance_business_days": st.integers(0, 10),
        "silence_means": st.sampled_from(["accepted", "rejected"]),
        "return_window_days": st.integers(0, 20),
        "holding_days": st.integers(0, 40),
        "reschedule_window_days": st.integers(0, 30),
        "no_show_report_hours": st.integers(0, 72),
        "return_cap_per_month": st.none() | st.integers(0, 2),
    },
)


@settings(max_examples=300, deadline=None)
@given(
    statuses=st.lists(st.sampled_from(STATUSES), max_size=3, unique=True),
    meetings=st.lists(st.sampled_from(MEETING_EVENTS), max_size=4, unique=True),
    terms=TERMS,
    start=st.floats(0, 60),
    returns_before=st.integers(0, 3),
)
def test_a_decision_holds_until_its_next_review_and_changes_then(
    statuses: list[StatusEvent],
    meetings: list[MeetingEvent],
    terms: dict[str, object],
    start: float,
    returns_before: int,
) -> None:
    """``next_review_at`` is exact: nothing changes before it without a new fact, and the
    decision does change at it (so the sweep never re-decides for nothing)."""
    lead = facts(statuses=tuple(statuses), meetings=tuple(meetings))
    deal = contract(**terms)
    as_of = T0 + days(start)
    now = decide(lead, deal, as_of=as_of, returns_before=returns_before)
    due = now.next_review_at
    if due is None:
        later = decide(lead, deal, as_of=as_of + days(400), returns_before=returns_before)
        assert later == now
        return
    assert due > as_of
    for step in (0.25, 0.5, 0.999):
        between = as_of + (due - as_of) * step
        assert decide(lead, deal, as_of=between, returns_before=returns_before) == now
    assert decide(lead, deal, as_of=due, returns_before=returns_before) != now


def test_the_inbound_cap_counts_places_on_the_account_taken_before() -> None:
    lead = facts(by_firm=False, channel="web_form", touches=(Touch(FIRM, T0 - days(1)),))
    terms = contract(**LEAD_ONLY, inbound_cap_per_account_per_month=2)
    assert inbound_claim(lead, terms) == T0
    within = decide(lead, terms, as_of=T0 + days(8), inbound_before=1)
    assert within.state == "credited"
    beyond = decide(lead, terms, as_of=T0 + days(8), inbound_before=2)
    assert (beyond.state, beyond.reasons[-1].rule) == ("not_eligible", "inbound.cap")
    assert "2 inbound leads a month on one account" in beyond.reasons[-1].sentence


def test_only_an_inbound_lead_that_passes_every_other_gate_takes_a_place() -> None:
    terms = contract(**LEAD_ONLY)
    touched = (Touch(FIRM, T0 - days(1)),)
    assert inbound_claim(facts(by_firm=False, channel="import", touches=touched), terms) is None
    assert inbound_claim(facts(by_firm=False, channel="web_form"), terms) is None  # no touch
    assert inbound_claim(facts(touches=touched), terms) is None  # the firm's own lead
    uncapped = contract(**LEAD_ONLY, inbound_cap_per_account_per_month=None)
    assert inbound_claim(facts(by_firm=False, touches=touched, channel="api"), uncapped) is None


def test_no_reason_names_another_firm() -> None:
    touched = (Touch("rival-firm", T0 - days(2)),)
    inbound = facts(by_firm=False, channel="web_form", touches=touched)
    registered = facts(touches=touched)
    for lead in (inbound, registered):
        decision = decide(lead, contract(**LEAD_ONLY), as_of=T0 + days(8))
        assert all("rival" not in r.sentence for r in decision.reasons), decision.reasons


def test_a_firm_cannot_report_that_sales_moved_its_meeting() -> None:
    """SP7 pays the firm when the company's sales team moved a meeting; a firm's own claim
    of it is not the company's word (the partner API refuses it too)."""
    claimed = facts(
        meetings=(
            meeting("booked", T0, scheduled=T0 + days(2)),
            meeting("rescheduled_by_sales", T0 + days(1), scheduled=T0 + days(5)),  # by firm
            meeting("cancelled_by_prospect", T0 + days(4)),
        )
    )
    decision = decide(claimed, contract(**MEETINGS_ONLY), as_of=T0 + days(10))
    assert decision.state == "pending"
    assert "meeting.moved_by_sales" not in [r.rule for r in decision.reasons]


def test_a_customer_account_the_router_kept_the_firm_off_says_so() -> None:
    for by_firm in (True, False):
        lead = facts(firm=None, customer=True, by_firm=by_firm, channel="web_form")
        decision = decide(lead, contract(**LEAD_ONLY), as_of=T0 + days(8))
        assert (decision.state, decision.reasons[-1].rule) == ("not_eligible", "customer.excluded")
        assert "existing customer" in decision.reasons[-1].sentence
