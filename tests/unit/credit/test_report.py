"""The firm's daily referral report and weekly summary (sticking point 9, docs/design.md):
facts in, counts out, in event time."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from services.credit.domain.facts import LeadFacts, MeetingEvent, Received, StatusEvent, Touch
from services.credit.domain.report import LeadStanding, build_report, report_csv, week_of

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


def test_rejections_come_back_to_the_firm_as_reason_codes_with_counts_and_meanings() -> None:
    """Issue 6: the firm sees why its leads were rejected, so it can improve."""
    hour = timedelta(hours=1)
    leads = [
        lead(MON, "void", statuses=(("rejected", "contact_left_company", MON + hour),)),
        lead(MON, "void", statuses=(("rejected", "contact_left_company", MON + 2 * hour),)),
        lead(MON, "void", statuses=(("rejected", "missing_information", MON + hour),)),
        lead(MON, "credited", "150", statuses=(("accepted", None, MON + hour),)),
    ]
    report = build_report("acme", leads, MON.date(), 1)
    assert report.rejected_reasons == {"contact_left_company": 2, "missing_information": 1}
    assert [(f.reason_code, f.count) for f in report.rejection_feedback] == [
        ("contact_left_company", 2),
        ("missing_information", 1),
    ]
    assert report.rejection_feedback[0].meaning == "The contact no longer works there."
    assert sorted(str(r.rejection_reason) for r in report.referrals) == [
        "None",
        "contact_left_company",
        "contact_left_company",
        "missing_information",
    ]


def test_touches_logged_are_the_firms_own_in_the_window() -> None:
    touches = [
        Touch("acme", MON, "a.com"),
        Touch("acme", MON + timedelta(hours=3), "a.com"),
        Touch("acme", MON + timedelta(hours=4), "b.com"),
        Touch("acme", MON + timedelta(days=1), "c.com"),  # the next day
        Touch("rival", MON, "d.com"),  # another firm's
    ]
    report = build_report("acme", [], MON.date(), 1, touches)
    assert (report.touches_logged, report.accounts_touched) == (3, 2)


def test_the_csv_holds_the_counts_the_reasons_and_one_row_per_referral() -> None:
    leads = [
        lead(MON, "void", statuses=(("rejected", "not_icp", MON),)),
        lead(MON + timedelta(hours=1), "credited", "150"),
    ]
    report = build_report("acme", leads, MON.date(), 1)
    summary, referrals = report_csv(report).split("\r\n\r\n")
    metrics = dict(csv.reader(io.StringIO(summary)))
    assert metrics["leads_sent"] == "2"
    assert metrics["amount"] == "150.00"
    assert metrics["rejected:not_icp"] == "1"
    rows = list(csv.DictReader(io.StringIO(referrals)))
    assert [(r["state"], r["rejection_reason"]) for r in rows] == [
        ("void", "not_icp"),
        ("credited", ""),
    ]
    assert rows[0]["lead_id"] == str(leads[0].facts.lead_id)
