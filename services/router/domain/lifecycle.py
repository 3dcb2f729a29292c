"""A lead's lifecycle as data: its stages, the transitions allowed between them, the pure
functions over them, and what a stage change means for routing.

- ``transition`` is strict: what sales (or a CRM sync) asks for through the API must be
  in the table, or it is refused with where the lead is and what it may go to.
- ``record`` is lenient: a fact from the outside (a meeting reported by a firm, a status
  pushed by another system) happened whatever the table says, so it is always kept; it
  moves the lead only forward in the funnel, and says when it came out of order.
- ``reroutes`` and ``closes`` say what a move does to the lead's routing, whether it came
  through the API or from the outside: route it again, or release its owner's capacity.

Sticking points (docs/design.md) 5 (acceptance with a reason, inside an SLA) and 6/7
(meetings held, no-shows and reschedules) are the stages here. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

Stage = Literal[
    "received",
    "routed",
    "accepted",
    "rejected",
    "meeting_booked",
    "meeting_held",
    "no_show",
    "rescheduled",
    "qualified",
    "disqualified",
    "opportunity",
    "closed_won",
    "closed_lost",
]
STAGES: tuple[Stage, ...] = get_args(Stage)

# Where a lead may go from each stage. "rejected → routed" is the router's own move
# when a lead rejected as the wrong owner's is routed to someone else.
TRANSITIONS: Mapping[Stage, frozenset[Stage]] = {
    "received": frozenset({"routed"}),
    "routed": frozenset({"routed", "accepted", "rejected"}),
    "rejected": frozenset({"routed"}),
    "accepted": frozenset({"meeting_booked", "qualified", "disqualified"}),
    "meeting_booked": frozenset({"meeting_held", "no_show", "rescheduled"}),
    "rescheduled": frozenset({"meeting_held", "no_show", "rescheduled"}),
    "no_show": frozenset({"rescheduled", "disqualified"}),
    "meeting_held": frozenset({"qualified", "disqualified"}),
    "qualified": frozenset({"opportunity", "disqualified"}),
    "opportunity": frozenset({"closed_won", "closed_lost"}),
    "disqualified": frozenset(),
    "closed_won": frozenset(),
    "closed_lost": frozenset(),
}

# How far down the funnel a stage is: an out-of-order fact moves a lead only forward.
RANK: Mapping[Stage, int] = {
    "received": 0,
    "routed": 1,
    "accepted": 2,
    "rejected": 2,
    "meeting_booked": 3,
    "rescheduled": 4,
    "no_show": 5,
    "meeting_held": 5,
    "qualified": 6,
    "disqualified": 6,
    "opportunity": 7,
    "closed_won": 8,
    "closed_lost": 8,
}

AWAITING_ACCEPTANCE: Stage = "routed"  # the only stage SLA timers run in


class IllegalTransition(ValueError):
    def __init__(self, current: Stage, wanted: Stage) -> None:
        self.current = current
        self.wanted = wanted
        self.allowed = sorted(TRANSITIONS[current])
        allowed = ", ".join(self.allowed) or "nothing (it is final)"
        super().__init__(f"A lead in stage {current} cannot move to {wanted}; allowed: {allowed}.")


def transition(current: Stage, wanted: Stage) -> Stage:
    """The stage after a requested move, or ``IllegalTransition``."""
    if wanted not in TRANSITIONS[current]:
        raise IllegalTransition(current, wanted)
    return wanted


@dataclass(frozen=True)
class Recorded:
    stage: Stage  # the lead's stage after the fact
    in_order: bool  # the fact was an allowed transition from where the lead was


def record(current: Stage, fact: Stage) -> Recorded:
    """Apply a fact from the outside leniently: an allowed move is made; any other moves
    the lead only if it is further down the funnel (a meeting held before anyone
    accepted the lead), and is flagged as out of order either way."""
    if fact in TRANSITIONS[current]:
        return Recorded(fact, True)
    return Recorded(fact if RANK[fact] > RANK[current] else current, False)


def awaits_acceptance(stage: Stage) -> bool:
    return stage == AWAITING_ACCEPTANCE


# Stages after which a lead no longer takes a place in its owner's capacity. A rejection
# as "wrong_owner" is not one of them: it moves the lead to someone else. (Not the
# table's final stages: a lead rejected for any other reason is done with, although the
# table lets the router route a rejected lead again.)
CLOSING_STAGES: frozenset[Stage] = frozenset(
    {"rejected", "disqualified", "closed_won", "closed_lost"}
)


def reroutes(stage: str, reason_code: str | None) -> bool:
    """The move is a rejection as the wrong owner's: the lead is routed again."""
    return stage == "rejected" and reason_code == "wrong_owner"


def closes(stage: str, reason_code: str | None) -> bool:
    """The move ends the lead's claim on its owner's capacity."""
    return stage in CLOSING_STAGES and not reroutes(stage, reason_code)


# What a meeting update says about the lead's stage; None: kept in the history only.
MEETING_STAGES: Mapping[str, Stage | None] = {
    "booked": "meeting_booked",
    "held": "meeting_held",
    "no_show": "no_show",
    "rescheduled_by_prospect": "rescheduled",
    "rescheduled_by_sales": "rescheduled",
    "cancelled_by_prospect": None,
    "cancelled_by_sales": None,
    "flagged_bad": None,
}
