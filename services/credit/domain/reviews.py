"""Which decisions a batch's moved places put up for review.

A lead whose place under a monthly cap (or whose credited meeting's place in its firm's
month) is taken or given up changes the count of every place after it that month: those
leads' decisions are due for review (the sweep re-decides them). A batch's leads are
decided one after another with the month's places kept current in memory, so a lead
decided *after* a move in the same batch already counted it; only the places decided
before the move — in earlier transactions, or earlier in the batch — need review.

A move is ``(key, since, lead)``: the cap (or the firm, for meetings), the earliest time
the places changed at, and the lead that moved. It bears on the places in the month of
``since`` after it (``places``: after ``(since, lead)`` in time, then lead id; meetings:
at or after ``since``), never on the mover's own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

from services.credit.domain.tiers import month_of

K = TypeVar("K", bound=Hashable)

Move = tuple[K, datetime, UUID]
Held = tuple[UUID, K, datetime]
"""A place as it stands: the lead, the cap (or firm) and the time it is counted at."""


class _Earliest(Generic[K]):
    """The earliest move of a month, and the earliest by another lead: a place is after
    some move by a lead other than its own exactly when it is after the first of these
    (or, if the first is its own lead's, the second)."""

    __slots__ = ("first", "second")

    def __init__(self) -> None:
        self.first: tuple[tuple[datetime, UUID], Move[K]] | None = None
        self.second: tuple[tuple[datetime, UUID], Move[K]] | None = None

    def add(self, move: Move[K]) -> None:
        point = (move[1], move[2])
        if self.first is None or point < self.first[0]:
            if self.first is not None and self.first[1][2] != move[2]:
                self.second = self.first
            self.first = (point, move)
        elif move[2] != self.first[1][2] and (self.second is None or point < self.second[0]):
            self.second = (point, move)

    def bound_for(self, lead: UUID) -> tuple[datetime, UUID] | None:
        """The earliest move by a lead other than ``lead``."""
        if self.first is not None and self.first[1][2] != lead:
            return self.first[0]
        return self.second[0] if self.second is not None else None

    def moves(self) -> list[Move[K]]:
        return [entry[1] for entry in (self.first, self.second) if entry is not None]


def _month(move: Move[K]) -> tuple[K, str]:
    return move[0], month_of(move[1])


def _after(at: datetime, lead: UUID, bound: tuple[datetime, UUID], *, ties: bool) -> bool:
    return at >= bound[0] if ties else (at, lead) > bound


def fewest_moves(moves: Iterable[Move[K]]) -> list[Move[K]]:
    """The moves that put up for review the same places as all of ``moves`` (at most two a
    month: the earliest, and the earliest by another lead), for the statement that marks
    the places of other transactions' leads."""
    months: dict[tuple[K, str], _Earliest[K]] = defaultdict(_Earliest)
    for move in moves:
        months[_month(move)].add(move)
    return [m for earliest in months.values() for m in earliest.moves()]


def decided_before_a_move(
    held: Iterable[Held[K]],
    moves: Sequence[Move[K]],
    position: Mapping[UUID, int],
    *,
    ties: bool = False,
) -> set[UUID]:
    """The batch's leads (``position``: the order they were decided in) whose place stands
    after a move made by a lead decided later in the batch: each counted the month as it was
    before that move. ``ties``: a place at the move's time is after it (meetings)."""
    later: dict[tuple[K, str], list[Move[K]]] = defaultdict(list)
    for move in moves:
        later[_month(move)].append(move)
    places: dict[tuple[K, str], list[tuple[int, UUID, datetime]]] = defaultdict(list)
    for lead, key, at in held:
        if lead in position and (key, month_of(at)) in later:
            places[(key, month_of(at))].append((position[lead], lead, at))
    due: set[UUID] = set()
    for month, standing in places.items():
        pending = sorted(later[month], key=lambda m: position[m[2]], reverse=True)
        earliest: _Earliest[K] = _Earliest()
        taken = 0
        for index, lead, at in sorted(standing, key=lambda p: p[0], reverse=True):
            while taken < len(pending) and position[pending[taken][2]] > index:
                earliest.add(pending[taken])
                taken += 1
            bound = earliest.bound_for(lead)
            if bound is not None and _after(at, lead, bound, ties=ties):
                due.add(lead)
    return due
