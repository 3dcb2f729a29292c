"""The router's business objects as plain, immutable data: what a lead says, what the
router knows (a ``Snapshot`` of accounts, owners, teams, territories and round-robin
counters) and what it decided (a ``Decision`` with its trace).

No I/O and no ORM here: the store maps rows to these at the edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

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
    # Working hours for the SLA (``shared/business_hours.py`` BusinessHours), parsed only when the
    # owner gets a lead: most owners in a snapshot never do.
    business_hours: Mapping[str, Any] | None = field(default=None, compare=False)

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
    sla: Mapping[str, Any] | None = field(default=None, compare=False)  # an SlaPolicy

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
        def fits(allowed: tuple[str, ...], value: str | None) -> bool:
            return not allowed or (value is not None and value.upper() in allowed)

        return (
            bool(self.countries or self.regions or self.states)
            and fits(self.countries, country)
            and fits(self.regions, region)
            and fits(self.states, state)
        )


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
