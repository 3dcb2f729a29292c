"""One meeting's outcome from its history (sticking points 6, 7, 8, docs/design.md). Pure:
the events, the terms, the as-of time and ops' latest verdict in; the outcome, its reason,
when it earned its credit and when (with no new fact) it would change out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from services.credit.domain.contract import Terms
from services.credit.domain.disputes import Settlement
from services.credit.domain.facts import MeetingEvent
from services.credit.domain.reasons import Reason, when

MeetingOutcome = Literal["credited", "pending", "void", "disputed"]
MISSES = ("no_show", "rescheduled_by_prospect", "cancelled_by_prospect")
MOVED_BY_SALES = ("rescheduled_by_sales", "cancelled_by_sales")


@dataclass(frozen=True)
class MeetingResult:
    outcome: MeetingOutcome
    reason: Reason
    earned_at: datetime | None = None  # when a credited meeting earned it
    due: datetime | None = None  # when the outcome changes if nothing else is heard


def _history(events: list[MeetingEvent]) -> list[MeetingEvent]:
    """In event time, the booking first: a booking reported late (after the meeting) still
    opens the meeting's history."""
    return sorted(
        events, key=lambda e: (e.status != "booked", e.occurred_at, e.reported_at, e.status)
    )


def _flag(flagged: list[MeetingEvent], settled: Settlement | None) -> MeetingResult:
    """SP8: a meeting sales flagged as bad waits for ops; the verdict settles it."""
    if settled is None or settled.at < flagged[-1].occurred_at:
        return MeetingResult(
            "disputed",
            Reason("meeting.flagged_bad", "Sales flagged the meeting as bad; ops must settle it."),
        )
    if settled.kind == "upheld":
        return MeetingResult(
            "void",
            Reason(
                "meeting.flag_upheld",
                f"Ops upheld sales' flag on {settled.at:%Y-%m-%d}{settled.said()}: the meeting "
                "does not count.",
            ),
        )
    return MeetingResult(
        "credited",
        Reason(
            "meeting.flag_overturned",
            f"Ops overturned sales' flag on {settled.at:%Y-%m-%d}{settled.said()}: the meeting "
            "counts as held.",
        ),
        settled.at,
    )


def meeting_outcome(  # noqa: PLR0911 - one outcome per meeting rule
    events: list[MeetingEvent], terms: Terms, as_of: datetime, settled: Settlement | None = None
) -> MeetingResult:
    ordered = _history(events)
    report_within = timedelta(hours=terms.no_show_report_hours)
    flagged = [e for e in ordered if e.status == "flagged_bad"]
    held = [e for e in ordered if e.status == "held"]
    # Only the company's side can say its sales team moved a meeting (SP7): a firm's own
    # report of it would be the firm paying itself.
    moved = [e for e in ordered if e.status in MOVED_BY_SALES and e.reported_by != "firm"]
    if flagged:
        return _flag(flagged, settled)
    if held:
        return MeetingResult(
            "credited",
            Reason("meeting.held", f"The meeting was held on {held[0].occurred_at:%Y-%m-%d}."),
            held[0].occurred_at,
        )
    if moved and terms.sales_move_keeps_credit:
        return _moved_by_sales(moved[0])
    ordered = [e for e in ordered if not (e.status in MOVED_BY_SALES and e.reported_by == "firm")]
    if not ordered:
        return MeetingResult(
            "pending", Reason("meeting.booked", "The meeting is booked and not yet held.")
        )
    last = ordered[-1]
    if last.status in MOVED_BY_SALES:
        return _moved_by_sales(last)
    if last.status == "no_show":
        due = (last.scheduled_for or last.occurred_at) + report_within
        if last.reported_at > due:
            return MeetingResult(
                "credited",
                Reason(
                    "meeting.no_show_reported_late",
                    f"The no-show was reported after {terms.no_show_report_hours} hours, "
                    "so the meeting counts as held.",
                ),
                due,
            )
    if last.status in MISSES:
        return _missed(ordered, terms, as_of)
    if last.scheduled_for is None:
        return MeetingResult(
            "pending", Reason("meeting.booked", "The meeting is booked and not yet held.")
        )
    return _awaiting_report(last.scheduled_for, terms, as_of)


def _moved_by_sales(move: MeetingEvent) -> MeetingResult:
    """SP7: the company's own sales team moved or cancelled it: the firm keeps the credit."""
    return MeetingResult(
        "credited",
        Reason(
            "meeting.moved_by_sales",
            "The company's sales team moved or cancelled the meeting; the firm keeps the credit.",
        ),
        move.occurred_at,
    )


def _missed(ordered: list[MeetingEvent], terms: Terms, as_of: datetime) -> MeetingResult:
    """SP6: missed or moved by the prospect — credit only if held inside the window."""
    first_miss = next(e for e in ordered if e.status in MISSES)
    deadline = first_miss.occurred_at + timedelta(days=terms.reschedule_window_days)
    last = ordered[-1]
    moved_to = _new_time(ordered) if last.status == "rescheduled_by_prospect" else None
    if moved_to is not None and moved_to <= deadline:
        return _awaiting_report(moved_to, terms, as_of)
    if as_of < deadline:
        return MeetingResult(
            "pending",
            Reason(
                "meeting.awaiting_reschedule",
                f"The prospect missed or moved the meeting; it earns credit if held by "
                f"{deadline:%Y-%m-%d}.",
            ),
            due=deadline,
        )
    return MeetingResult(
        "void",
        Reason(
            "meeting.not_held_in_window",
            f"The prospect missed or moved the meeting and it was not held within "
            f"{terms.reschedule_window_days} days.",
        ),
    )


def _new_time(ordered: list[MeetingEvent]) -> datetime | None:
    """The time a prospect's reschedule set, if it set one (an update that names no new
    time carries the old one)."""
    *earlier, last = ordered
    if last.scheduled_for is None or any(e.scheduled_for == last.scheduled_for for e in earlier):
        return None
    return last.scheduled_for


def _awaiting_report(at: datetime, terms: Terms, as_of: datetime) -> MeetingResult:
    """SP6 reporting deadline: a no-show must be reported within the window after the
    meeting's time, otherwise the meeting counts as held."""
    due = at + timedelta(hours=terms.no_show_report_hours)
    if as_of >= due:
        return MeetingResult(
            "credited",
            Reason(
                "meeting.unreported_counts_as_held",
                f"No no-show was reported within {terms.no_show_report_hours} hours of the "
                f"meeting on {at:%Y-%m-%d}, so it counts as held.",
            ),
            due,
        )
    return MeetingResult(
        "pending",
        Reason(
            "meeting.scheduled",
            f"The meeting is set for {when(at)}; it counts as held unless a no-show is "
            f"reported by {when(due)}.",
        ),
        due=due,
    )
