"""The router's business objects as plain, immutable data: what a lead says, what the
router knows (a ``Snapshot`` of accounts, owners, teams, territories and round-robin
counters) and what it decided (a ``Decision`` with its trace).

No I/O and no ORM here: the store maps rows to these at the edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from services.router.domain.sla import SlaPolicy
from shared.business_hours import BusinessHours

ROLES = ("AE", "AM", "SDR", "manager")


@dataclass(frozen=True)
class OutOfOffice:
    """An owner's absence, both days included."""

    starts_on: date
    ends_on: date

    def covers(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


@dataclass(frozen=True)
class Owner:
    owner_id: str
    name: str
    role: str  # AE, AM, SDR, manager
    active: bool = True
    team_id: str | None = None
    manager_id: str | None = None
    capacity: int | None = None  # max open leads; None: no limit
    weight: int = 1
    out_of_office: tuple[OutOfOffice, ...] = ()
    open_leads: int = 0
    # Working hours for the SLA; None: the default week (``shared/business_hours.py``).
    business_hours: BusinessHours | None = field(default=None, compare=False)

    def away_on(self, day: date) -> bool:
        return any(w.covers(day) for w in self.out_of_office)

    def at_capacity(self) -> bool:
        return self.capacity is not None and self.open_leads >= self.capacity


@dataclass(frozen=True)
class Team:
    """A team of owners, and the queue its leads wait in when nobody can take them."""

    team_id: str
    name: str
    queue: str | None = None
    sla: SlaPolicy | None = field(default=None, compare=False)

    @property
    def queue_name(self) -> str:
        return self.queue or f"team:{self.team_id}"


@dataclass(frozen=True)
class Territory:
    """A territory: the places it covers. An empty tuple means "any"."""

    territory_id: str
    name: str
    countries: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    states: tuple[str, ...] = ()

    def covers(self, country: str | None, region: str | None, state: str | None) -> bool:
        return (
            bool(self.countries or self.regions or self.states)
            and _fits(self.countries, country)
            and _fits(self.regions, region)
            and _fits(self.states, state)
        )


def _fits(allowed: tuple[str, ...], value: str | None) -> bool:
    return not allowed or (value is not None and value.upper() in allowed)


Place = tuple[str | None, str | None, str | None]  # country, region, state


class Coverage:
    """Which territories cover a place, each place worked out once: built with a
    workspace's territories and shared by every snapshot of it (a batch, a backtest), so
    a lead does not test every territory again for a place another lead already had."""

    KEPT = 10_000  # places remembered (a workspace has far fewer; past it, start again)

    def __init__(self, territories: Mapping[str, Territory]) -> None:
        self._territories = tuple(territories.values())
        self._known: dict[Place, frozenset[str]] = {}

    def covering(
        self, country: str | None, region: str | None, state: str | None
    ) -> frozenset[str]:
        place = (country, region, state)
        found = self._known.get(place)
        if found is None:
            if len(self._known) >= self.KEPT:
                self._known.clear()
            found = frozenset(
                t.territory_id for t in self._territories if t.covers(country, region, state)
            )
            self._known[place] = found
        return found


def rosters_of(owners: Mapping[str, Owner]) -> dict[str, tuple[str, ...]]:
    """Each team's members (owner ids, sorted)."""
    teams: dict[str, list[str]] = {}
    for owner in owners.values():
        if owner.team_id is not None:
            teams.setdefault(owner.team_id, []).append(owner.owner_id)
    return {team: tuple(sorted(ids)) for team, ids in teams.items()}


@dataclass(frozen=True)
class FirmAssignment:
    """An account assigned to an outside firm, from ``starts_on`` to ``ends_on``; leads
    during the notice period (up to ``notice_ends_on``) still count (sticking point 10).
    ``cross_sell`` says whether the firm's contract lets it work the account once it is
    a customer (sticking point 4)."""

    firm_id: str
    starts_on: date
    ends_on: date | None = None
    notice_ends_on: date | None = None
    cross_sell: bool = False

    def in_force_on(self, day: date) -> bool:
        last_day = self.notice_ends_on or self.ends_on
        return self.starts_on <= day and (last_day is None or day <= last_day)

    def in_notice_on(self, day: date) -> bool:
        return (
            self.ends_on is not None
            and self.notice_ends_on is not None
            and self.ends_on < day <= self.notice_ends_on
        )


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    domains: frozenset[str]
    owner_id: str | None = None  # the owning AE
    account_manager_id: str | None = None
    parent_id: str | None = None
    customer: bool = False
    country: str | None = None
    region: str | None = None
    state: str | None = None
    employees: int | None = None
    industry: str | None = None
    firm_assignment: FirmAssignment | None = None


@dataclass(frozen=True)
class Lead:
    lead_id: UUID
    email_domain: str
    free_mail: bool
    received_at: datetime
    company: str | None = None
    country: str | None = None
    region: str | None = None
    state: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """What the router knows when it decides. ``accounts`` needs to hold only the
    accounts the lead could match and their ancestors (the store loads just those);
    ``round_robin`` maps (team id, owner id) to that owner's smooth-weighted counter."""

    accounts: Mapping[str, Account]
    owners: Mapping[str, Owner]
    teams: Mapping[str, Team] = field(default_factory=dict)
    territories: Mapping[str, Territory] = field(default_factory=dict)
    round_robin: Mapping[tuple[str, str], int] = field(default_factory=dict)
    as_of: datetime | None = None  # when the decision is taken (out-of-office checks)
    excluded_owner_ids: frozenset[str] = frozenset()  # owners who rejected this lead
    # Worked out from ``territories`` and ``owners`` when not given; given, they must be
    # built from the same (a batch's snapshots share them: settled.Settled builds them).
    coverage: Coverage | None = field(default=None, compare=False, repr=False)
    rosters: Mapping[str, tuple[str, ...]] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.coverage is None:
            object.__setattr__(self, "coverage", Coverage(self.territories))
        if self.rosters is None:
            object.__setattr__(self, "rosters", rosters_of(self.owners))

    def covering(
        self, country: str | None, region: str | None, state: str | None
    ) -> frozenset[str]:
        """The ids of the territories that cover the place."""
        assert self.coverage is not None
        return self.coverage.covering(country, region, state)

    def members(self, team_id: str) -> list[Owner]:
        """The team's owners as this snapshot knows them, by id."""
        assert self.rosters is not None
        owners = self.owners
        return [owners[i] for i in self.rosters.get(team_id, ()) if i in owners]


@dataclass(frozen=True)
class Match:
    account: Account
    method: str  # "domain" or "name"
    score: float  # 1.0 for a domain; the fuzzy ratio / 100 for a name
    matched_on: str  # the value that matched, e.g. the domain or the cleaned name
    weak: bool = False


@dataclass(frozen=True)
class Step:
    rule: str
    matched: bool
    reason: str


@dataclass(frozen=True)
class Decision:
    match: Match | None
    owner: Owner | None
    queue: str | None
    flags: tuple[str, ...]
    firm_assignment: FirmAssignment | None
    ruleset_version: str
    trace: tuple[Step, ...] = field(default=())
    team: Team | None = None
    rule: str | None = None  # the rule that decided
    round_robin: Mapping[tuple[str, str], int] = field(default_factory=dict)  # counters to write
    because: str = ""  # the clause of the sentence that says why

    @property
    def explanation(self) -> str:
        from services.router.domain.explain import explain

        return explain(self)
