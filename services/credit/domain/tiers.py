"""Volume tiers (SP6): a held meeting is priced by its rank among the firm's meetings
credited in the same month, in event time (when each earned its credit, then its id).

Never by the order the decisions happened to be taken in: deciding a lead again later in
the month (a late fact, a deadline passing) finds its meeting where it was, so a later
meeting never reprices an earlier one. A meeting credited late (a no-show window closing,
a flag overturned) that ranks before others moves them down a place; the service puts
their decisions up for review, as it does for the caps' places.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

MeetingPlace = tuple[datetime, str]
"""A credited meeting's place: when it earned its credit, and its id (the tie-break)."""

Ladder = Mapping[str, Sequence[MeetingPlace]]
"""A firm's credited meetings on its other leads, by month ('YYYY-MM', UTC), sorted."""

NO_MEETINGS: Ladder = {}


def month_of(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m}"


def rank(others: Ladder, own: Sequence[MeetingPlace], place: MeetingPlace) -> int:
    """The place's rank in its month (1: the month's first): the other leads' meetings
    before it, and the lead's own credited meetings before it, plus one."""
    month = month_of(place[0])
    mine = sum(1 for p in own if p < place and month_of(p[0]) == month)
    return bisect_left(others.get(month, ()), place) + mine + 1


def months_between(first: datetime, last: datetime) -> list[str]:
    """Every month from ``first``'s to ``last``'s (UTC), in order."""
    start, end = first.astimezone(UTC), last.astimezone(UTC)
    year, month = start.year, start.month
    months = []
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months
