"""The admin API's bodies in and out: accounts, owners, teams, territories, simulate.

Outside `api/` because the service layer (`workspace.py`) takes and returns them too;
nothing here may import from `api/`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID, uuid4

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
    model_validator,
)

from services.router.domain.names import registrable_domain
from services.router.domain.sla import SlaPolicy
from shared.business_hours import BusinessHours

Id = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        """PostgreSQL text cannot hold NUL, and no name or id needs a control character."""
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and any(ord(c) < 32 for c in t) for t in texts):
            raise ValueError("must not contain control characters")
        return value


class FirmAssignmentIn(_In):
    firm_id: str = Field(min_length=1, max_length=100)
    starts_on: date
    ends_on: date | None = None
    notice_ends_on: date | None = None
    cross_sell: bool = False

    @model_validator(mode="after")
    def _dates_in_order(self) -> FirmAssignmentIn:
        if self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        if self.notice_ends_on and (self.ends_on is None or self.notice_ends_on < self.ends_on):
            raise ValueError("notice_ends_on needs an ends_on on or before it")
        return self


class AccountIn(_In):
    name: str = Field(min_length=1, max_length=300)
    domains: list[str] = Field(default=[], max_length=50)
    parent_id: str | None = Field(default=None, max_length=100)
    customer: bool = False
    owner_id: str | None = Field(default=None, max_length=100)
    account_manager_id: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    region: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, max_length=100)
    employees: int | None = Field(default=None, ge=0, le=10_000_000)
    industry: str | None = Field(default=None, max_length=100)
    firm: FirmAssignmentIn | None = None

    @field_validator("domains")
    @classmethod
    def _fold(cls, domains: list[str]) -> list[str]:
        folded = []
        for raw in domains:
            if not raw or len(raw) > 255 or "." not in raw or " " in raw.strip():
                raise ValueError(f"{raw!r} is not a domain")
            folded.append(registrable_domain(raw))
        return sorted(set(folded))

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value


class AccountOut(AccountIn):
    account_id: str
    rerouted: int = 0  # leads routed again because the account changed hands


class OutOfOfficeIn(_In):
    starts_on: date
    ends_on: date

    @model_validator(mode="after")
    def _ordered(self) -> OutOfOfficeIn:
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self


class OwnerChannelsIn(_In):
    """Where an owner is told of new leads, SLA reminders and breaches, reassignments and
    meetings (ops' notifier). Either, both or neither."""

    email: EmailStr | None = Field(default=None, max_length=320)
    slack_webhook_url: AnyHttpUrl | None = Field(
        default=None,
        description="A Slack (or Slack-compatible) incoming webhook URL. In production "
        "settings only https to a public address is delivered to.",
    )


class OwnerIn(_In):
    name: str = Field(min_length=1, max_length=200)
    role: Literal["AE", "AM", "SDR", "manager"]
    active: bool = True
    team_id: str | None = Field(default=None, max_length=100)
    manager_id: str | None = Field(default=None, max_length=100)
    capacity: int | None = Field(default=None, ge=0, le=1_000_000)
    weight: int = Field(default=1, ge=0, le=1000)
    out_of_office: list[OutOfOfficeIn] = Field(default=[], max_length=100)
    business_hours: BusinessHours | None = Field(
        default=None,
        description="Working days and hours, time zone and holidays the SLA is counted in "
        "(default: Monday-Friday 09:00-17:00 UTC, no holidays). Notifications wait for "
        "them too, except an SLA breach's.",
    )
    notify: OwnerChannelsIn = Field(default_factory=OwnerChannelsIn)


class OwnerOut(OwnerIn):
    owner_id: str
    open_leads: int


class TeamIn(_In):
    name: str = Field(min_length=1, max_length=200)
    queue: str | None = Field(default=None, max_length=100)
    sla: SlaPolicy | None = Field(
        default=None, description="The team's acceptance SLA (a rule's own SLA wins over it)."
    )


class TeamOut(TeamIn):
    team_id: str


class TerritoryIn(_In):
    name: str = Field(min_length=1, max_length=200)
    countries: list[str] = Field(default=[], max_length=300)
    regions: list[str] = Field(default=[], max_length=300)
    states: list[str] = Field(default=[], max_length=300)


class TerritoryOut(TerritoryIn):
    territory_id: str


class SimulatedLead(_In):
    """A sample lead for a dry run."""

    lead_id: UUID = Field(default_factory=uuid4)
    email_domain: str = Field(min_length=1, max_length=255)
    free_mail: bool = False
    company: str | None = Field(default=None, max_length=300)
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    region: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, max_length=100)
    received_at: datetime | None = None


class SimulateIn(_In):
    lead: SimulatedLead
    ruleset_version: str | None = Field(
        default=None, max_length=100, description="Default: the active rule set."
    )
