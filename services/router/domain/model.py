"""The router's business objects as plain, immutable data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID


@dataclass(frozen=True)
class Owner:
    owner_id: str
    name: str
    role: str  # AE, AM, SDR, manager
    active: bool = True


@dataclass(frozen=True)
class FirmAssignment:
    """An account assigned to an outside firm, from ``starts_on`` to ``ends_on``; leads
    during the notice period (up to ``notice_ends_on``) still count (sticking point 10)."""

    firm_id: str
    starts_on: date
    ends_on: date | None = None
    notice_ends_on: date | None = None

    def in_force_on(self, day: date) -> bool:
        last_day = self.notice_ends_on or self.ends_on
        return self.starts_on <= day and (last_day is None or day <= last_day)


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    domains: frozenset[str]
    owner: Owner | None = None
    firm_assignment: FirmAssignment | None = None


@dataclass(frozen=True)
class Lead:
    lead_id: UUID
    email_domain: str
    free_mail: bool
    received_at: datetime
    company: str | None = None


@dataclass(frozen=True)
class Match:
    account: Account
    method: str  # "domain"
    score: float
    matched_on: str  # the value that matched, e.g. the domain


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

    @property
    def explanation(self) -> str:
        from services.router.domain.explain import explain

        return explain(self)
