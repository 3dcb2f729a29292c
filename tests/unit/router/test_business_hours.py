"""Business-hours arithmetic and the SLA's timers: weekends, US holidays (Thanksgiving
2026-11-26), a German state's holiday, daylight saving, time zones, edges."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.router.domain.ruleset import RuleSet, default_ruleset, parse_ruleset
from services.router.domain.sla import SlaPolicy, plan, policy_for
from shared.business_hours import (
    BusinessCalendar,
    BusinessHours,
    add_business_minutes,
    business_minutes_between,
)

NEW_YORK = ZoneInfo("America/New_York")
US = BusinessHours(timezone="America/New_York", country="US").calendar()
PLAIN_UTC = BusinessCalendar(timezone=ZoneInfo("UTC"))


def ny(day: int, hour: int, minute: int = 0, month: int = 11, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        (ny(24, 10), 60, ny(24, 11)),  # a plain Tuesday
        (ny(24, 13), 240, ny(24, 17)),  # ends exactly at closing: that day, not the next
        (ny(24, 16), 120, ny(25, 10)),  # over the night
        (ny(24, 7), 30, ny(24, 9, 30)),  # before opening: counts from opening
        (ny(24, 20), 0, ny(25, 9)),  # zero minutes after hours: the next opening
        (ny(24, 10), 0, ny(24, 10)),
        (ny(25, 16), 120, ny(27, 10)),  # Thanksgiving (Thu 26th) is a day off
        (ny(27, 15), 240, ny(30, 11)),  # Friday → weekend → Monday
        (ny(25, 15), 960, ny(30, 15)),  # holiday and weekend in one deadline
        (ny(28, 12), 60, ny(30, 10)),  # starting on a Saturday
        (ny(24, 12, month=12), 720, ny(28, 16, month=12)),  # 5 h Thu, Christmas Fri, 7 h Mon
    ],
)
def test_add_business_minutes_in_new_york_with_us_holidays(
    start: datetime, minutes: int, expected: datetime
) -> None:
    assert add_business_minutes(US, start, minutes) == expected


def test_the_answer_is_utc_whatever_zone_the_start_is_in() -> None:
    due = add_business_minutes(US, ny(24, 10).astimezone(ZoneInfo("Asia/Tokyo")), 60)
    assert due.tzinfo == UTC
    assert due == ny(24, 11)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        add_business_minutes(US, datetime(2026, 11, 24, 10), 10)


def test_negative_minutes_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_business_minutes(US, ny(24, 10), -1)


def test_across_the_end_of_daylight_saving_the_working_day_stays_nine_to_five() -> None:
    # 2026-11-01 (Sunday) New York falls back: Friday 9:00 is 13:00 UTC, Monday 9:00 14:00.
    friday_late = ny(30, 16, month=10)
    due = add_business_minutes(US, friday_late, 120)
    assert due == ny(2, 10)
    assert due.astimezone(UTC).hour == 15
    assert business_minutes_between(US, friday_late, due) == 120


def test_across_the_start_of_daylight_saving() -> None:
    # 2026-03-08 (Sunday) New York springs forward.
    assert add_business_minutes(US, ny(6, 16, month=3), 120) == ny(9, 10, month=3)


def test_a_state_holiday_counts_only_in_that_state() -> None:
    # 2026-11-18 is Buß- und Bettag: a public holiday in Saxony only.
    saxony = BusinessHours(timezone="Europe/Berlin", country="DE", subdivision="SN").calendar()
    berlin = BusinessHours(timezone="Europe/Berlin", country="DE", subdivision="BE").calendar()
    start = datetime(2026, 11, 17, 16, tzinfo=ZoneInfo("Europe/Berlin"))
    assert add_business_minutes(saxony, start, 120).date() == date(2026, 11, 19)
    assert add_business_minutes(berlin, start, 120).date() == date(2026, 11, 18)


def test_other_working_weeks_and_windows() -> None:
    # A Sunday-to-Thursday week, 08:00-16:00 in Dubai (no holidays configured).
    gulf = BusinessHours(
        timezone="Asia/Dubai",
        days=("sun", "mon", "tue", "wed", "thu"),
        opens=time(8),
        closes=time(16),
    ).calendar()
    thursday = datetime(2026, 11, 26, 15, tzinfo=ZoneInfo("Asia/Dubai"))
    assert add_business_minutes(gulf, thursday, 120) == datetime(
        2026, 11, 29, 9, tzinfo=ZoneInfo("Asia/Dubai")
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"country": "XX"}, "country"),
        ({"days": []}, "days"),
        ({"opens": "18:00", "closes": "09:00"}, "opens"),
        ({"subdivision": "CA"}, "subdivision"),  # no country
        ({"country": "US", "subdivision": "ZZ"}, "subdivision"),
        # an aware time: comparing it with the naive default was a TypeError (500)
        ({"closes": "17:00:00+02:00"}, "closes"),
        ({"opens": "09:00Z", "closes": "17:00Z"}, "opens"),
    ],
)
def test_bad_business_hours_are_refused(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        BusinessHours.model_validate(changes)


def test_a_calendar_without_working_days_is_refused() -> None:
    with pytest.raises(ValueError, match="work_days"):
        BusinessCalendar(timezone=NEW_YORK, work_days=frozenset())


def test_the_sla_plan_reminds_at_half_escalates_at_the_sla_and_reassigns_after_two() -> None:
    routed = ny(25, 15)  # Wednesday before Thanksgiving
    timers = plan(SlaPolicy(name="8h", accept_within_minutes=480), US, routed)
    assert [(t.kind, t.after_minutes, t.fire_at) for t in timers] == [
        ("reminder", 240, ny(27, 11)),
        ("breach", 480, ny(27, 15)),
        ("reassign", 960, ny(30, 15)),
    ]
    assert {t.due_at for t in timers} == {ny(27, 15)}


def test_an_sla_without_reassignment_only_reminds_and_escalates() -> None:
    timers = plan(SlaPolicy(accept_within_minutes=60, reassign_share=None), PLAIN_UTC, ny(24, 10))
    assert [t.kind for t in timers] == ["reminder", "breach"]


def test_the_most_specific_sla_wins() -> None:
    rule, team, ruleset = (SlaPolicy(name=n) for n in ("rule", "team", "ruleset"))
    assert policy_for(rule, team, ruleset).name == "rule"
    assert policy_for(None, team, ruleset).name == "team"
    assert policy_for(None, None, ruleset).name == "ruleset"
    assert policy_for(None, None, None).name == "accept-4h"


instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


@given(instants, st.integers(min_value=0, max_value=5000))
def test_adding_then_measuring_gives_back_the_minutes(start: datetime, minutes: int) -> None:
    due = add_business_minutes(US, start, minutes)
    assert due >= start
    assert business_minutes_between(US, start, due) == pytest.approx(minutes)
    local = due.astimezone(NEW_YORK)
    assert local.weekday() < 5
    assert local.date() not in US.holidays
    assert time(9) <= local.time() <= time(17)


@given(instants, st.integers(min_value=0, max_value=3000), st.integers(min_value=0, max_value=3000))
def test_more_minutes_never_come_earlier(start: datetime, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert add_business_minutes(US, start, low) <= add_business_minutes(US, start, high)
    assert add_business_minutes(US, start, low + high) == add_business_minutes(
        US, add_business_minutes(US, start, low), high
    )


def test_a_deadline_is_never_on_a_day_off_even_over_long_spans() -> None:
    start = ny(1, 9, month=12)
    for minutes in range(0, 480 * 40, 97):
        due = add_business_minutes(US, start, minutes).astimezone(NEW_YORK)
        assert due.weekday() < 5, minutes
        assert due.date() not in US.holidays, minutes
        assert due - start < timedelta(days=80)


def test_a_rule_set_carries_a_default_sla_and_rules_their_own() -> None:
    ruleset = parse_ruleset(
        """
version: sla-test
sla: {name: accept-1d, accept_within_minutes: 480}
rules:
  - kind: named_owner
    sla: {name: named-2h, accept_within_minutes: 120, reminder_share: 0.25}
  - kind: unassigned
"""
    )
    assert ruleset.sla.name == "accept-1d"
    named = ruleset.rule_sla("named_owner")
    assert named is not None
    assert (named.accept_within_minutes, named.reminder_share, named.reassign_share) == (
        120,
        0.25,
        2.0,
    )
    assert ruleset.rule_sla("unassigned") is None
    assert ruleset.rule_sla(None) is None
    assert default_ruleset().sla == SlaPolicy()


@pytest.mark.parametrize(
    ("sla", "field"),
    [
        ({"accept_within_minutes": 0}, "accept_within_minutes"),
        ({"reminder_share": 1.5}, "reminder_share"),
        ({"reassign_share": 0.5}, "reassign_share"),
        ({"escalate_to": "ceo"}, "escalate_to"),
    ],
)
def test_bad_slas_are_refused_where_they_are(sla: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        RuleSet.model_validate(
            {"version": "x", "rules": [{"kind": "named_owner", "sla": sla}, {"kind": "unassigned"}]}
        )
