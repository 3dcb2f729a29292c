"""The acceptance SLA as data, and the timers it sets when a lead is routed.

An owner must accept or reject a routed lead within ``accept_within_minutes`` of their
business hours (sticking point 5, docs/design.md: "sales accepts or rejects, with a
reason, within N days"). At ``reminder_share`` of it the owner is reminded; at the SLA
the owner's manager is told (escalation); at ``reassign_share`` of it (2: a second SLA)
the lead is routed again, to someone else. The SLA comes from the rule that routed the
lead, else from the owner's team, else from the rule set. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.router.domain.business_hours import BusinessCalendar, add_business_minutes
from shared.calendar import public_holidays, supported_countries

TimerKind = Literal["reminder", "breach", "reassign"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BusinessHours(_Strict):
    """An owner's working week: days, one daily window in local time, the IANA time
    zone, and the country (and subdivision) whose public holidays are days off.

    ``opens`` and ``closes`` are wall times in ``timezone`` ("17:00"); a time with a UTC
    offset ("17:00:00+02:00") is refused: the zone already says where the day is, and a
    fixed offset would be wrong for half the year wherever clocks change."""

    timezone: str = Field(default="UTC", max_length=64)
    days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    opens: time = time(9)
    closes: time = time(17)
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2, for holidays")
    subdivision: str | None = Field(default=None, max_length=10, description="e.g. CA, BY")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value

    @field_validator("opens", "closes")
    @classmethod
    def _wall_time(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("a wall time in `timezone`, without a UTC offset")
        return value

    @field_validator("days")
    @classmethod
    def _some_days(cls, value: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if not value:
            raise ValueError("at least one working day")
        return tuple(sorted(set(value), key=WEEKDAYS.index))

    @field_validator("country")
    @classmethod
    def _supported(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in supported_countries():
            raise ValueError(f"no public holidays known for country {value!r}")
        return value.upper() if value else value

    @model_validator(mode="after")
    def _consistent(self) -> BusinessHours:
        if not self.opens < self.closes:
            raise ValueError("opens must be before closes (one window within the day)")
        if self.subdivision is not None:
            if self.country is None:
                raise ValueError("a subdivision needs a country")
            known = supported_countries()[self.country]
            if self.subdivision.upper() not in {s.upper() for s in known}:
                raise ValueError(f"{self.subdivision!r} is not a subdivision of {self.country}")
        return self

    def calendar(self) -> BusinessCalendar:
        subdivision = self.subdivision.upper() if self.subdivision else None
        return BusinessCalendar(
            timezone=ZoneInfo(self.timezone),
            opens=self.opens,
            closes=self.closes,
            work_days=frozenset(WEEKDAYS.index(d) for d in self.days),
            holidays=public_holidays(self.country, subdivision) if self.country else frozenset(),
        )


class SlaPolicy(_Strict):
    name: str = Field(default="accept-4h", min_length=1, max_length=100)
    accept_within_minutes: int = Field(default=240, ge=1, le=60 * 24 * 60)
    reminder_share: float = Field(default=0.5, gt=0, lt=1)
    reassign_share: float | None = Field(
        default=2.0, gt=1, le=10, description="None: never reassign, only escalate"
    )


DEFAULT_SLA = SlaPolicy()
DEFAULT_HOURS = BusinessHours()


def policy_for(
    rule: SlaPolicy | None, team: SlaPolicy | None, ruleset: SlaPolicy | None
) -> SlaPolicy:
    """The most specific SLA: the deciding rule's, the owner's team's, the rule set's."""
    return rule or team or ruleset or DEFAULT_SLA


@dataclass(frozen=True)
class PlannedTimer:
    kind: TimerKind
    after_minutes: int  # business minutes after the routing
    fire_at: datetime
    due_at: datetime  # the SLA's deadline (the breach)


def plan(policy: SlaPolicy, calendar: BusinessCalendar, routed_at: datetime) -> list[PlannedTimer]:
    """The timers a lead routed at ``routed_at`` gets, in firing order."""
    minutes = policy.accept_within_minutes
    steps: list[tuple[TimerKind, int]] = [
        ("reminder", max(1, round(minutes * policy.reminder_share))),
        ("breach", minutes),
    ]
    if policy.reassign_share is not None:
        steps.append(("reassign", round(minutes * policy.reassign_share)))
    due_at = add_business_minutes(calendar, routed_at, minutes)
    return [
        PlannedTimer(kind, after, add_business_minutes(calendar, routed_at, after), due_at)
        for kind, after in steps
    ]
