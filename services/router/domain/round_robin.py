"""Weighted round robin inside a team, as a pure function of the counters.

The quota method (Balinski and Young): over N leads each owner's share stays within one
of N x weight / total weight at every step (smooth weighted round robin, tried first,
can drift past one with several unequal weights), and picks are interleaved rather than
bunched. The counters live in the database (the
store applies ``updates`` under row locks), so the rotation is fair across restarts and
across several router instances.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from services.router.domain.model import Owner


@dataclass(frozen=True)
class Pick:
    owner: Owner
    updates: dict[tuple[str, str], int]  # (team id, owner id) → new counter


@dataclass(frozen=True)
class Skipped:
    owner: Owner
    why: str  # "inactive", "out of office", "at capacity (5/5)", "rejected this lead"


def eligibility(
    members: Sequence[Owner], day: date, excluded: frozenset[str]
) -> tuple[list[Owner], list[Skipped]]:
    """Who in the team can take a lead on ``day``, and why the others cannot."""
    eligible: list[Owner] = []
    skipped: list[Skipped] = []
    for owner in sorted(members, key=lambda o: o.owner_id):
        if not owner.active:
            skipped.append(Skipped(owner, "inactive"))
        elif owner.owner_id in excluded:
            skipped.append(Skipped(owner, "rejected this lead"))
        elif owner.weight <= 0:
            skipped.append(Skipped(owner, "weight 0"))
        elif owner.away_on(day):
            skipped.append(Skipped(owner, "out of office"))
        elif owner.at_capacity():
            skipped.append(Skipped(owner, f"at capacity ({owner.open_leads}/{owner.capacity})"))
        else:
            eligible.append(owner)
    return eligible, skipped


def pick(team_id: str, eligible: Sequence[Owner], counters: Mapping[tuple[str, str], int]) -> Pick:
    """The next owner of ``team_id`` among ``eligible`` (non-empty), and the new counters.

    The counters are picks so far. Among the owners still under their upper quota (one
    more pick would not put them above ``leads x weight / total``), the one with the
    highest ``weight / (picks + 1)`` wins, ties to the lowest id: Balinski and Young's
    quota method, which keeps every owner's share within one of its quota at every step.
    """
    if not eligible:
        raise ValueError("nobody is eligible")
    total = sum(o.weight for o in eligible)
    # Counts of picks; one that is somehow negative (hand-edited) counts as none.
    picks = {o.owner_id: max(0, counters.get((team_id, o.owner_id), 0)) for o in eligible}
    lead_number = sum(picks.values()) + 1
    under_quota = [o for o in eligible if picks[o.owner_id] * total < lead_number * o.weight]
    chosen: Owner | None = None
    for owner in under_quota or eligible:
        if chosen is None or _before(owner, chosen, picks):
            chosen = owner
    assert chosen is not None
    return Pick(chosen, {(team_id, chosen.owner_id): picks[chosen.owner_id] + 1})


def _before(a: Owner, b: Owner, picks: Mapping[str, int]) -> bool:
    """Whether ``a`` comes before ``b``: a higher ``weight / (picks + 1)`` (compared
    exactly, multiplied out), ties to the lower id."""
    left = a.weight * (picks[b.owner_id] + 1)
    right = b.weight * (picks[a.owner_id] + 1)
    return left > right or (left == right and a.owner_id < b.owner_id)
