"""The dashboard's charts stay readable under a burst (the flow's clipped axis), the
routing per owner keeps whose bar it is, and each empty panel says why it is empty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.ops.domain.dashboard import (
    DEFAULT_HOURS,
    Count,
    Flow,
    OwnerSla,
    Series,
    axis_max,
    flow,
    owner_counts,
    why_empty,
)
from services.ops.domain.filters import BoardFilter, Scope, board_filter, windows

MONDAY_0700 = datetime(2026, 11, 23, 7, tzinfo=UTC)
MONDAY_1000 = datetime(2026, 11, 23, 10, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 21, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("totals", "top"),
    [
        ([], None),
        ([0] * 60, None),
        ([12] * 59 + [500], 15),  # one burst: the axis stops a quarter above the others
        ([10, 12, 14, 11, 400, 13, 0, 0, 380], 18),  # two bursts, zeros not counted
        ([3, 4, 5, 6, 8, 9, 12], None),  # a ramp is no burst
        ([1, 400], None),  # too few busy minutes to tell a burst from the usual
        ([1, 1, 1, 40], 2),
    ],
)
def test_a_burst_gets_a_clipped_axis(totals: list[int], top: int | None) -> None:
    assert axis_max(totals) == top


def test_the_flow_of_a_burst_minute_is_clipped_not_flattened() -> None:
    now = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
    span = windows(BoardFilter(), now)
    rows = [(now - timedelta(minutes=m), "api", 10) for m in range(1, 40)]
    rows += [(now, "api", 300), (now, "partner", 200)]
    shaped = flow(rows, span.flow, span.bucket)
    assert shaped.axis_max == 13
    assert [s.values[-1] for s in shaped.channels] == [300, 200]  # the numbers stay true


def test_hourly_and_daily_bars_sum_their_minutes() -> None:
    span = windows(board_filter("2026-11-20", "2026-11-21", None, None), MONDAY_1000)
    rows = [
        (datetime(2026, 11, 20, 9, 5, tzinfo=UTC), "api", 2),
        (datetime(2026, 11, 20, 9, 59, tzinfo=UTC), "api", 3),
        (datetime(2026, 11, 21, 0, 0, tzinfo=UTC), "api", 7),  # the next day: not in range
    ]
    shaped = flow(rows, span.flow, span.bucket)
    assert (shaped.bucket, len(shaped.buckets)) == ("hour", 24)
    assert shaped.channels[0].values[9] == 5
    assert sum(shaped.channels[0].values) == 5


def test_routing_per_owner_keeps_the_owner_s_id_for_the_click() -> None:
    dana, queue = owner_counts([("own-dana", "Dana Ortiz", 4), (None, "queue: na", 2)])
    assert (dana.name, dana.owner_id, dana.count) == ("Dana Ortiz", "own-dana", 4)
    assert (queue.name, queue.owner_id) == ("queue: na", None)


def test_business_hours_and_the_next_opening() -> None:
    assert not DEFAULT_HOURS.is_open(MONDAY_0700)
    assert DEFAULT_HOURS.is_open(MONDAY_1000)
    assert not DEFAULT_HOURS.is_open(SATURDAY)
    assert DEFAULT_HOURS.next_opening(MONDAY_0700) == datetime(2026, 11, 23, 9, tzinfo=UTC)
    assert DEFAULT_HOURS.next_opening(SATURDAY) == datetime(2026, 11, 23, 9, tzinfo=UTC)
    assert DEFAULT_HOURS.next_opening(MONDAY_1000) == datetime(2026, 11, 24, 9, tzinfo=UTC)
    assert DEFAULT_HOURS.says() == "Mon-Fri 09:00-17:00 UTC"


NOTHING = Flow(bucket="minute", buckets=[], channels=[])
SOME = Flow(bucket="minute", buckets=[MONDAY_0700], channels=[Series(name="api", values=[3])])
ROUTED_TO_DANA = [Count(name="Dana Ortiz", count=3, owner_id="own-dana")]
ONLY_QUEUED = [Count(name="queue: na", count=3)]


def reasons(
    *,
    now: datetime,
    board: BoardFilter | None = None,
    by_owner: list[Count] | None = None,
    sla: list[OwnerSla] | None = None,
    received: int = 3,
) -> dict[str, str]:
    return why_empty(
        windows=windows(board or BoardFilter(), now),
        scope=(board or BoardFilter()).scope,
        now=now,
        flow=SOME if received else NOTHING,
        by_rule=[Count(name="firm_assignment", count=3)] if by_owner else [],
        by_owner=by_owner or [],
        sla=sla or [],
        credit=[],
        funnel_received=received,
        lag={"router": 0},
        lag_error=None,
    )


def test_the_sla_panel_at_seven_utc_says_reminders_wait_for_business_hours() -> None:
    said = reasons(now=MONDAY_0700, by_owner=ROUTED_TO_DANA)["sla"]
    assert said.startswith("No reminders yet: SLA clocks count business minutes only")
    assert "it is Mon 07:00 UTC, outside business hours (Mon-Fri 09:00-17:00 UTC" in said
    assert said.endswith("The clocks run again from Mon 09:00 UTC.")


def test_in_business_hours_an_empty_sla_panel_means_answered_in_time() -> None:
    said = reasons(now=MONDAY_1000, by_owner=ROUTED_TO_DANA)["sla"]
    assert said == (
        "No reminders, breaches or reassignments in the last 24 h: every lead routed to "
        "an owner was answered within its SLA or is still inside it."
    )


def test_no_sla_clock_runs_without_a_lead_routed_to_an_owner() -> None:
    said = reasons(now=MONDAY_0700, by_owner=ONLY_QUEUED)["sla"]
    assert said == "No SLA clock ran: no lead was routed to an owner in the last 24 h."


def test_a_past_range_is_not_explained_by_the_clock_of_now() -> None:
    past = board_filter("2026-11-16", "2026-11-17", None, "acme")
    said = reasons(now=MONDAY_0700, board=past, by_owner=ROUTED_TO_DANA)["sla"]
    assert said.startswith("No reminders, breaches or reassignments in this range (2026-11-16")


def test_empty_charts_say_no_leads_in_this_range_and_for_whom() -> None:
    board = board_filter("2026-11-16", "2026-11-23", "own-lee", "acme")
    said = reasons(now=MONDAY_1000, board=board, received=0)
    assert said["flow"] == (
        "No leads received in this range (2026-11-16 to 2026-11-22 UTC) for firm acme, "
        "routed to own-lee."
    )
    assert said["funnel"] == said["flow"]
    assert said["rules"].startswith("No routing decisions in this range")
    assert said["credit"].startswith("No credit decisions on an outside firm's lead")
    assert said["lag"] == "Every service is caught up: 0 messages behind."  # zeros, said
    assert "sla" in said


def test_a_filled_panel_has_no_reason() -> None:
    filled = why_empty(
        windows=windows(BoardFilter(), MONDAY_1000),
        scope=Scope(),
        now=MONDAY_1000,
        flow=SOME,
        by_rule=[Count(name="firm_assignment", count=3)],
        by_owner=ROUTED_TO_DANA,
        sla=[OwnerSla(owner_id="own-dana", reminders=1)],
        credit=[],
        funnel_received=3,
        lag={},
        lag_error="broker down",  # shown as the panel's error instead
    )
    assert set(filled) == {"credit"}
    behind = reasons(now=MONDAY_1000, by_owner=ROUTED_TO_DANA)
    assert "lag" in behind
    lagging = why_empty(
        windows=windows(BoardFilter(), MONDAY_1000),
        scope=Scope(),
        now=MONDAY_1000,
        flow=SOME,
        by_rule=[],
        by_owner=[],
        sla=[],
        credit=[],
        funnel_received=0,
        lag={"router": 4, "credit": 0},
        lag_error=None,
    )
    assert "lag" not in lagging
