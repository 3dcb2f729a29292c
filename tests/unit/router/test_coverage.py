"""What a batch's snapshots share: territory coverage worked out once per place, and each
team's roster; both must answer as a scan of the workspace would."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.router.domain.model import Coverage, Owner, Snapshot, Territory, rosters_of
from tests.unit.router.workspace import OWNERS, TEAMS

TERRITORIES = {
    t.territory_id: t
    for t in [
        Territory("emea", "EMEA", countries=("GB", "DE", "FR")),
        Territory("dach", "DACH", countries=("DE", "AT", "CH")),
        Territory("us-west", "US West", countries=("US",), states=("CA", "WA", "OR")),
        Territory("apac", "APAC", regions=("APAC",)),
        Territory("nowhere", "Nowhere"),  # covers nothing: no places
    ]
}
PLACES = [
    ("DE", None, None),
    ("de", None, None),
    ("GB", "EMEA", None),
    ("US", None, "CA"),
    ("US", None, "ny"),
    ("US", None, None),
    (None, "APAC", None),
    (None, None, None),
]


def scanned(country: str | None, region: str | None, state: str | None) -> frozenset[str]:
    return frozenset(
        t.territory_id for t in TERRITORIES.values() if t.covers(country, region, state)
    )


@pytest.mark.parametrize("place", PLACES)
def test_coverage_answers_as_a_scan_the_first_time_and_every_time_after(
    place: tuple[str | None, str | None, str | None],
) -> None:
    coverage = Coverage(TERRITORIES)
    assert coverage.covering(*place) == scanned(*place)
    assert coverage.covering(*place) == scanned(*place)


def test_coverage_starts_again_past_its_limit_and_still_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Coverage, "KEPT", 3)
    coverage = Coverage(TERRITORIES)
    for _ in range(3):
        for place in PLACES:
            assert coverage.covering(*place) == scanned(*place)
    assert len(coverage._known) <= 3


def test_a_snapshot_builds_what_it_is_not_given() -> None:
    owners = {o.owner_id: o for o in OWNERS}
    snapshot = Snapshot(
        accounts={}, owners=owners, teams={t.team_id: t for t in TEAMS}, territories=TERRITORIES
    )
    assert snapshot.covering("DE", None, None) == {"emea", "dach"}
    assert [o.owner_id for o in snapshot.members("na-commercial")] == ["dana", "ivy", "lee", "max"]
    assert snapshot.members("no-such-team") == []


def test_members_are_the_snapshots_owners_as_they_stand_now() -> None:
    owners = {o.owner_id: o for o in OWNERS}
    rosters = rosters_of(owners)  # built once, before counts move
    owners["gus"] = replace(owners["gus"], open_leads=3)  # Gus took a lead since
    del owners["fay"]  # gone from this snapshot's owners
    snapshot = Snapshot(accounts={}, owners=owners, rosters=rosters)
    members: list[Owner] = snapshot.members("na-enterprise")
    assert [(o.owner_id, o.open_leads) for o in members] == [("eve", 0), ("gus", 3), ("tom", 0)]
