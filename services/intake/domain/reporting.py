"""How late a firm may report what it did (a touch, a meeting booked or changed): a term
of its contract (``reporting_window_days``), so a firm cannot reach back and rewrite the
past — a touch dated weeks back that would turn old inbound leads into credit. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta

FUTURE_SLACK = timedelta(minutes=5)


def late_or_future(occurred_at: datetime, reported_at: datetime, window_days: int) -> str | None:
    """Why a fact dated ``occurred_at`` cannot be reported at ``reported_at`` (a 422
    reason naming ``occurred_at``), or None."""
    if occurred_at > reported_at + FUTURE_SLACK:
        return "is in the future"
    if occurred_at < reported_at - timedelta(days=window_days):
        return (
            f"is more than {window_days} days ago; the firm's contract takes facts reported "
            f"within {window_days} days of when they happened"
        )
    return None
