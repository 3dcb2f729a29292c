"""The funnel per channel and campaign, and the dashboard's panels, from counted rows;
and what the event log indexes out of any event's data."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

from services.ops.domain.dashboard import credit_by_firm, flow, lag_by_service, sla_by_owner
from services.ops.domain.extract import Indexed, indexed
from services.ops.domain.filters import BoardFilter, windows
from services.ops.domain.funnel import LeadProgress, funnel, funnel_csv


def lead(
    *,
    channel: str | None = "api",
    campaign: str | None = "spring",
    stages: tuple[str, ...] = (),
    meetings: tuple[str, ...] = (),
    credit: str | None = None,
    amount: str | None = None,
) -> LeadProgress:
    return LeadProgress(channel, campaign, frozenset(stages), frozenset(meetings), credit, amount)


def test_a_lead_counts_at_every_step_it_reached() -> None:
    result = funnel(
        [
            lead(
                stages=("accepted", "closed_won"),
                meetings=("booked", "held"),
                credit="credited",
                amount="150.00",
            ),
            lead(stages=("qualified",)),  # qualified means accepted first
            lead(stages=("rejected",), meetings=("no_show",), credit="void", amount="0"),
            lead(),
            lead(channel="partner", campaign=None, credit="credited", amount="500.00"),
        ]
    )
    spring, partner = result.rows
    assert (spring.channel, spring.campaign) == ("api", "spring")
    assert (spring.received, spring.accepted, spring.meeting_held, spring.credited, spring.won) == (
        4,
        2,
        1,
        1,
        1,
    )
    assert spring.credited_amount == Decimal("150.00")
    assert spring.rate("accepted") == 0.5
    assert (partner.campaign, partner.received, partner.credited) == ("(none)", 1, 1)
    total = result.total
    assert (total.received, total.credited, total.credited_amount) == (5, 2, Decimal("650.00"))


def test_rows_are_busiest_first_and_an_empty_funnel_is_zeros() -> None:
    result = funnel([lead(campaign="b"), lead(campaign="a"), lead(campaign="b")])
    assert [(r.campaign, r.received) for r in result.rows] == [("b", 2), ("a", 1)]
    empty = funnel([])
    assert empty.rows == []
    assert (empty.total.received, empty.total.rate("won")) == (0, 0.0)


def test_a_malformed_amount_counts_as_zero() -> None:
    assert funnel([lead(credit="credited", amount="n/a")]).total.credited_amount == 0


def test_funnel_csv_has_a_line_per_row_and_the_total() -> None:
    text = funnel_csv(funnel([lead(stages=("accepted",)), lead(channel="web_form")]))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["channel"], r["received"], r["accepted"]) for r in rows] == [
        ("api", "1", "1"),
        ("web_form", "1", "0"),
        ("all", "2", "1"),
    ]
    assert rows[-1]["accepted_rate"] == "0.5"
    assert list(rows[0]) == [
        "channel",
        "campaign",
        "received",
        "accepted",
        "meeting_held",
        "credited",
        "won",
        "credited_amount",
        "accepted_rate",
        "meeting_held_rate",
        "credited_rate",
        "won_rate",
    ]


def test_flow_keeps_every_minute_of_the_hour_per_channel() -> None:
    now = datetime(2026, 11, 20, 15, 30, 42, tzinfo=UTC)
    minute = now.replace(second=0, microsecond=0)
    span = windows(BoardFilter(), now)
    shaped = flow(
        [
            (minute, "api", 3),
            (minute - timedelta(minutes=59), "partner", 2),
            (minute - timedelta(minutes=60), "api", 9),  # outside the hour
        ],
        span.flow,
        span.bucket,
    )
    assert (shaped.bucket, len(shaped.buckets)) == ("minute", 60)
    assert (shaped.buckets[0], shaped.buckets[-1]) == (minute - timedelta(minutes=59), minute)
    series = {s.name: s.values for s in shaped.channels}
    assert series["api"][-1] == 3
    assert sum(series["api"]) == 3
    assert series["partner"][0] == 2
    assert shaped.axis_max is None  # no burst: the data's own axis


def test_sla_per_owner_most_breaches_first() -> None:
    rows = [
        ("leadflow.lead.sla_reminder.v1", "own-lee", 4),
        ("leadflow.lead.sla_breached.v1", "own-dana", 2),
        ("leadflow.lead.reassigned.v1", "own-dana", 1),
        ("leadflow.lead.received.v1", "own-dana", 99),
    ]
    dana, lee = sla_by_owner(rows)
    assert (dana.owner_id, dana.breaches, dana.reassignments, dana.reminders) == (
        "own-dana",
        2,
        1,
        0,
    )
    assert (lee.owner_id, lee.reminders) == ("own-lee", 4)


def test_credit_per_firm_counts_states_and_sums_credited() -> None:
    acme, globex = credit_by_firm(
        [
            ("acme", "credited", "150.00"),
            ("acme", "credited", "150.00"),
            ("acme", "void", "0"),
            ("globex", "pending", "0"),
        ]
    )
    assert (acme.firm_id, acme.credited_amount, acme.decisions) == (
        "acme",
        Decimal("300.00"),
        {"credited": 2, "void": 1},
    )
    assert (globex.credited_amount, globex.decisions) == (Decimal("0"), {"pending": 1})


def test_lag_is_summed_per_service_from_group_names() -> None:
    lag = lag_by_service(
        {"router.leads": 3, "router.status": 2, "credit.facts": 0, "ops.events": 7}
    )
    assert lag == {"credit": 0, "ops": 7, "router": 5}


def test_indexed_fields_of_flat_nested_and_unknown_events() -> None:
    lead_id = uuid4()
    assert indexed(
        {
            "lead_id": str(lead_id),
            "account": {"account_id": "acc-1"},
            "owner": {"owner_id": "own-1"},
            "firm_assignment": {"firm_id": "acme"},
            "channel": "api",
        }
    ) == Indexed(lead_id, "acme", "acc-1", "own-1", "api", None)
    assert indexed({"lead_id": "not-a-uuid", "firm_id": 7, "campaign": "c" * 300}) == Indexed(
        campaign="c" * 200
    )
    assert indexed({"owner": "flat string", "account_id": "acc-2"}).account_id == "acc-2"
