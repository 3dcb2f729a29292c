"""The dashboard's and the lead list's filters, without I/O: ranges and their bounds, each
panel's window and the flow's bars, owner and firm, the chart a click came from; bad
values name their field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.ops.domain.filters import (
    CREDIT_DECIDED,
    ROUTED,
    BoardFilter,
    LeadQuery,
    Range,
    Scope,
    Window,
    axis,
    board_filter,
    bucket_for,
    lead_query,
    parse_bound,
    windows,
)
from services.ops.domain.stream_filter import FilterError

NOW = datetime(2026, 11, 20, 15, 30, 42, tzinfo=UTC)


def query(**given: str | None) -> LeadQuery:
    base: dict[str, str | None] = {
        "event": "received",
        "from_": None,
        "to": None,
        "owner": None,
        "firm": None,
        "q": None,
        "channel": None,
        "campaign": None,
        "rule": None,
        "state": None,
    }
    return lead_query(**{**base, **given})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
        ("2026-11-20T10:00:00+02:00", datetime(2026, 11, 20, 8, tzinfo=UTC)),
        ("2026-11-20T10:00Z", datetime(2026, 11, 20, 10, tzinfo=UTC)),
    ],
)
def test_a_bound_is_a_utc_day_or_a_timestamp_with_an_offset(
    value: str | None, expected: datetime | None
) -> None:
    assert parse_bound(value, "from") == expected


@pytest.mark.parametrize(
    ("from_", "to", "field"),
    [
        ("garbage", None, "from"),
        ("2026-11-20T10:00:00", None, "from"),  # no offset: which day is meant?
        (None, "0001-01-01", "to"),
        (None, "9999-12-31T23:59:59-14:00", "to"),  # year 10000 in UTC
        ("2026-11-21", "2026-11-20", "from"),  # after to
        ("2026-11-20", "2026-11-20", "from"),  # empty
        ("2025-01-01", "2026-11-20", "from"),  # more than 366 days
    ],
)
def test_bad_ranges_name_their_field(from_: str | None, to: str | None, field: str) -> None:
    with pytest.raises(FilterError) as refused:
        board_filter(from_, to, None, None)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("owner", "firm", "field"),
    [("own lee", None, "owner"), (None, "acme/../x", "firm"), ("x" * 101, None, "owner")],
)
def test_owner_and_firm_are_identifiers(owner: str | None, firm: str | None, field: str) -> None:
    with pytest.raises(FilterError) as refused:
        board_filter(None, None, owner, firm)
    assert refused.value.field == field


def test_without_a_range_each_panel_keeps_its_own_window_ending_now() -> None:
    span = windows(BoardFilter(scope=Scope(owner_id="own-lee")), NOW)
    minute = NOW.replace(second=0, microsecond=0)
    assert (span.flow.start, span.flow.end, span.bucket) == (
        minute - timedelta(minutes=59),
        minute + timedelta(minutes=1),
        "minute",
    )
    assert span.routing.start == span.sla.start == NOW - timedelta(hours=24)
    assert span.credit.start == span.funnel.start == NOW - timedelta(days=30)
    assert [w.label for w in (span.flow, span.routing, span.credit)] == [
        "last hour",
        "last 24 h",
        "last 30 days",
    ]
    assert all(w.ends_now for w in (span.flow, span.routing, span.sla, span.credit))


@pytest.mark.parametrize(
    ("from_", "to", "bucket", "bars", "label"),
    [
        (
            "2026-11-20T09:00Z",
            "2026-11-20T11:00Z",
            "minute",
            120,
            "2026-11-20 09:00 to 2026-11-20 11:00 UTC",
        ),
        ("2026-11-20", "2026-11-21", "hour", 24, "2026-11-20 UTC"),
        ("2026-11-01", "2026-12-01", "day", 30, "2026-11-01 to 2026-11-30 UTC"),
        # a bucket that starts before the range is kept: its bar holds the range's part
        (
            "2026-11-20T09:30Z",
            "2026-11-21T09:30Z",
            "hour",
            25,
            "2026-11-20 09:30 to 2026-11-21 09:30 UTC",
        ),
    ],
)
def test_a_range_sets_every_panel_and_the_flow_bars_fit_its_span(
    from_: str, to: str, bucket: str, bars: int, label: str
) -> None:
    span = windows(board_filter(from_, to, None, None), NOW)
    assert span.bucket == bucket
    assert span.flow == span.routing == span.sla == span.credit == span.funnel
    assert len(axis(span.flow, span.bucket)) == bars
    assert span.flow.label == label
    assert not span.flow.ends_now


def test_an_open_range_ends_now_or_starts_thirty_days_before_its_end() -> None:
    since = windows(board_filter("2026-11-20T09:00Z", None, None, None), NOW)
    assert (since.flow.end, since.bucket, since.flow.label) == (
        NOW + timedelta(minutes=1),
        "hour",
        "since 2026-11-20 09:00 UTC",
    )
    assert since.sla.ends_now
    until = windows(board_filter(None, "2026-11-20", None, None), NOW)
    assert until.flow.start == datetime(2026, 10, 21, tzinfo=UTC)
    with pytest.raises(FilterError) as future:  # an open end (now) before the start
        windows(board_filter("2026-12-01", None, None, None), NOW)
    assert future.value.field == "from"


def test_buckets_keep_the_bars_few() -> None:
    assert [bucket_for(timedelta(hours=h)) for h in (1, 3, 4, 72, 73, 24 * 366)] == [
        "minute",
        "minute",
        "hour",
        "hour",
        "day",
        "day",
    ]
    day = Window(datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC), "", False)
    assert axis(day, "day") == [datetime(2026, 11, 20, tzinfo=UTC)]


def test_the_lead_list_takes_a_chart_s_fields() -> None:
    routed = query(event="routed", rule="firm_assignment", owner="own-lee", from_="2026-11-20")
    assert (routed.event, routed.rule, routed.scope, routed.range) == (
        ROUTED,
        "firm_assignment",
        Scope(owner_id="own-lee"),
        Range(datetime(2026, 11, 20, tzinfo=UTC), None),
    )
    credited = query(event="credit", state="credited", firm="acme")
    assert (credited.event, credited.state, credited.scope.firm_id) == (
        CREDIT_DECIDED,
        "credited",
        "acme",
    )
    assert query(q="  Walmart ").q == "walmart"
    assert query(q="walmart").text_only
    assert query().text_only
    assert not query(q="walmart", channel="api").text_only


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"event": "teleported"}, "event"),
        ({"rule": "firm_assignment"}, "rule"),  # a rule is a routing decision's
        ({"event": "routed", "rule": "a b"}, "rule"),
        ({"state": "credited"}, "state"),  # a state is a credit decision's
        ({"event": "credit", "state": "paid"}, "state"),
        ({"channel": "api\x00"}, "channel"),
        ({"campaign": "spring\x00"}, "campaign"),
        ({"campaign": "c" * 201}, "campaign"),
        ({"from_": "2026-11-20", "to": "2026-11-19"}, "from"),
    ],
)
def test_bad_lead_list_fields_name_their_field(given: dict[str, str], field: str) -> None:
    with pytest.raises(FilterError) as refused:
        query(**given)
    assert refused.value.field == field
