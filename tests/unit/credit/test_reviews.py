"""Which decisions a batch's moves put up for review: the reduced forms against the rule
they stand for, checked on random batches."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from services.credit.domain.reviews import decided_before_a_move, fewest_moves
from services.credit.domain.tiers import month_of

START = datetime(2026, 10, 28, tzinfo=UTC)
KEYS = ("inbound:acme.com", "inbound:globex.com")


def after(at: datetime, lead: UUID, move: tuple[str, datetime, UUID], *, ties: bool) -> bool:
    """The rule itself: a place after a move by another lead, in the move's month."""
    _, since, mover = move
    later = at >= since if ties else (at, lead) > (since, mover)
    return lead != mover and month_of(at) == month_of(since) and later


def random_batch(
    seed: int,
) -> tuple[list[UUID], list[tuple[UUID, str, datetime]], list[tuple[str, datetime, UUID]]]:
    rng = random.Random(seed)
    leads = [UUID(int=rng.getrandbits(128)) for _ in range(rng.randint(1, 12))]
    times = [START + timedelta(days=rng.randint(0, 6)) for _ in range(6)]  # ties and months
    held = [
        (lead, rng.choice(KEYS), rng.choice(times))
        for lead in leads
        for _ in range(rng.randint(0, 2))
    ]
    moves = [
        (rng.choice(KEYS), rng.choice(times), rng.choice(leads)) for _ in range(rng.randint(0, 8))
    ]
    return leads, held, moves


@pytest.mark.parametrize("ties", [False, True])
def test_the_fewest_moves_put_up_the_same_places_as_all_of_them(ties: bool) -> None:
    for seed in range(500):
        _, held, moves = random_batch(seed)
        fewest = fewest_moves(moves)
        assert len(fewest) <= 2 * len({(k, month_of(at)) for k, at, _ in moves})
        for lead, key, at in held:
            every = any(after(at, lead, m, ties=ties) for m in moves if m[0] == key)
            reduced = any(after(at, lead, m, ties=ties) for m in fewest if m[0] == key)
            assert reduced == every, (seed, lead, key, at)


@pytest.mark.parametrize("ties", [False, True])
def test_a_lead_is_due_when_a_lead_decided_after_it_moved_a_place_before_its_own(
    ties: bool,
) -> None:
    for seed in range(500):
        leads, held, moves = random_batch(seed)
        position = {lead: i for i, lead in enumerate(leads)}
        expected = {
            lead
            for lead, key, at in held
            for m in moves
            if m[0] == key and position[m[2]] > position[lead] and after(at, lead, m, ties=ties)
        }
        assert decided_before_a_move(held, moves, position, ties=ties) == expected, seed


def test_a_move_by_a_lead_decided_earlier_puts_no_one_up() -> None:
    first, second = UUID(int=1), UUID(int=2)
    position = {first: 0, second: 1}
    moved = [("inbound:acme.com", START, first)]  # the first took its place; the second saw it
    assert (
        decided_before_a_move(
            [(second, "inbound:acme.com", START + timedelta(hours=1))], moved, position
        )
        == set()
    )
    moved = [("inbound:acme.com", START, second)]  # the second took a place before the first's
    assert decided_before_a_move(
        [(first, "inbound:acme.com", START + timedelta(hours=1))], moved, position
    ) == {first}
