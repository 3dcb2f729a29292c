"""The firm's daily referral report and weekly summary (DESIGN.md sticking point 9):
facts in, counts out, in event time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from services.credit.domain.facts import LeadFacts, MeetingEvent, Received, StatusEvent
from services.credit.domain.report import LeadStanding, build_report, week_of

MON = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # a Monday


def lead(
    at: datetime,
    state: str = "pending",
    amount: str = "0",
    statuses: tuple[tuple[str, str | None, datetime], ...] = (),
    meetings: tuple[tuple[str, datetime], ...] = (),
) -> LeadStanding:
    meeting_id = uuid4()
    return LeadStanding(
        LeadFacts(
            uuid4(),
            Received(at, "partner", "acme", "x.com", frozenset()),
            statuses=tuple(StatusEvent(s, r, t) for s, r, t in statuses),
            meetings=tuple(MeetingEvent(meeting_id, s, t, t, None, "firm") for s, t in meetings),
        ),
        state,
        Decimal(amount),
        "a reason",
    )


def test_daily_report_counts_only_that_day_in_event_time() -> None:
    day = timedelta(days=1)
    leads = [
        lead(MON, "credited", "350", meetings=(("booked", MON), ("held", MON + day))),
        lead(
            MON + timedelta(hours=3),
            "void",
            statuses=(("rejected", "contact_left", MON + timedelta(hours=5)),),
        ),
        lead(MON + day, "pending", statuses=(("accepted", None, MON + day),)),
        lead(MON - day, "credited", "150", statuses=(("accepted", None, MON),)),
    ]
    report = build_report("acme", leads, MON.date(), 1)
    assert (report.start, report.end) == (MON.date(), MON.date() + day)
    assert report.leads_sent == 2
    assert (report.accepted, report.rejected) == (1, 1)
    assert report.rejected_reasons == {"contact_left": 1}
    assert (report.meetings_booked, report.meetings_held, report.meetings_no_show) == (1, 0, 0)
    assert (report.credited, report.amount) == (1, "350.00")
    assert [r.state for r in report.referrals] == ["credited", "void"]
    assert report.referrals[0].reason == "a reason"


def test_weekly_summary_spans_monday_to_sunday() -> None:
    leads = [
        lead(MON + timedelta(days=d), "credited", "350", meetings=(("no_show", MON),))
        for d in (0, 3, 6, 7)
    ]
    report = build_report("acme", leads, week_of(MON.date() + timedelta(days=4)), 7)
    assert report.start == date(2026, 11, 16)
    assert report.leads_sent == 3
    assert (report.credited, report.amount) == (3, "1050.00")
    assert report.meetings_no_show == 4


@pytest.mark.parametrize(
    ("day", "monday"),
    [
        (date(2026, 11, 16), date(2026, 11, 16)),
        (date(2026, 11, 22), date(2026, 11, 16)),
        (date(2026, 11, 23), date(2026, 11, 23)),
    ],
)
def test_week_of(day: date, monday: date) -> None:
    assert week_of(day) == monday


def test_an_empty_window_is_zeros() -> None:
    report = build_report("acme", [], date(2026, 1, 1), 7)
    assert report.leads_sent == report.credited == 0
    assert report.amount == "0.00"
    assert report.referrals == []
