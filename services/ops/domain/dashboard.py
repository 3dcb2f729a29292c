"""The dashboard's panels shaped from counted rows: lead flow per channel per minute (hour,
day) with its burst-proof axis, routing per owner, SLA events per owner, credit per firm,
consumer lag per service; and why an empty panel is empty (``why_empty``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from statistics import median

from pydantic import BaseModel

from services.ops.domain.filters import Bucket, Scope, Window, Windows, axis, floor_to

SLA_TYPES = {
    "leadflow.lead.sla_reminder.v1": "reminders",
    "leadflow.lead.sla_breached.v1": "breaches",
    "leadflow.lead.reassigned.v1": "reassignments",
}


class Series(BaseModel):
    name: str
    values: list[int]


class Flow(BaseModel):
    bucket: Bucket  # each bar: a minute, an hour or a day
    buckets: list[datetime]  # each bar's start, oldest first
    channels: list[Series]
    axis_max: int | None = None  # the chart's clipped top when a burst would flatten it


BURST_FACTOR = 5
"""A bar is a burst when it holds more than this many times the median busy bar."""


def axis_max(totals: Sequence[int]) -> int | None:
    """Where the flow chart's axis stops so that one burst does not flatten it, or None
    (the data's own top). With at least three busy bars, those over ``BURST_FACTOR``
    times the median busy bar are bursts: the axis stops a quarter above the busiest of
    the others, and the bursts are drawn to the top and labelled with their number."""
    busy = sorted(t for t in totals if t > 0)
    if len(busy) < 3:
        return None
    ordinary = [t for t in busy if t <= BURST_FACTOR * median(busy)]
    if len(ordinary) == len(busy):
        return None
    return max(ordinary[-1] + 1, math.ceil(ordinary[-1] * 1.25))


def flow(rows: Iterable[tuple[datetime, str, int]], window: Window, bucket: Bucket) -> Flow:
    """Leads received per channel in each bucket of the window (zeros kept, so the
    chart's time axis is even), oldest first."""
    starts = axis(window, bucket)
    index = {start: i for i, start in enumerate(starts)}
    counts: dict[str, list[int]] = {}
    for at, channel, count in rows:
        slot = index.get(floor_to(at, bucket))
        if slot is not None:
            counts.setdefault(channel, [0] * len(starts))[slot] += count
    totals = [sum(column) for column in zip(*counts.values(), strict=True)] if counts else []
    return Flow(
        bucket=bucket,
        buckets=starts,
        channels=[Series(name=c, values=v) for c, v in sorted(counts.items())],
        axis_max=axis_max(totals),
    )


class Count(BaseModel):
    name: str
    count: int
    owner_id: str | None = None  # per owner: whose bar (None: a queue, or unassigned)


def counts(rows: Iterable[tuple[str, int]]) -> list[Count]:
    return [Count(name=name, count=n) for name, n in rows]


def owner_counts(rows: Iterable[tuple[str | None, str, int]]) -> list[Count]:
    """Per owner (id, name) or queue (no id), busiest first."""
    return [Count(name=name, count=n, owner_id=owner) for owner, name, n in rows]


class OwnerSla(BaseModel):
    owner_id: str
    reminders: int = 0
    breaches: int = 0
    reassignments: int = 0


def sla_by_owner(rows: Iterable[tuple[str, str, int]]) -> list[OwnerSla]:
    """Reminders, breaches and reassignments per owner; most breaches first."""
    owners: dict[str, OwnerSla] = {}
    for event_type, owner, n in rows:
        field = SLA_TYPES.get(event_type)
        if field is not None:
            entry = owners.setdefault(owner, OwnerSla(owner_id=owner))
            setattr(entry, field, getattr(entry, field) + n)
    return sorted(owners.values(), key=lambda o: (-o.breaches, -o.reminders, o.owner_id))


class FirmCredit(BaseModel):
    firm_id: str
    decisions: dict[str, int]
    credited_amount: Decimal


def credit_by_firm(rows: Iterable[tuple[str, str, str]]) -> list[FirmCredit]:
    """Per firm, its leads' latest decisions counted by state and the credited amount."""
    firms: dict[str, FirmCredit] = {}
    for firm, state, amount in rows:
        entry = firms.setdefault(
            firm, FirmCredit(firm_id=firm, decisions={}, credited_amount=Decimal("0"))
        )
        entry.decisions[state] = entry.decisions.get(state, 0) + 1
        if state == "credited":
            try:
                entry.credited_amount += Decimal(amount)
            except InvalidOperation:
                continue
    return sorted(firms.values(), key=lambda f: (-f.credited_amount, f.firm_id))


def lag_by_service(lag_per_group: Mapping[str, int]) -> dict[str, int]:
    """Consumer groups are named ``<service>.<what>``: their lag summed per service."""
    services: dict[str, int] = {}
    for group, lag in lag_per_group.items():
        service = group.split(".", 1)[0]
        services[service] = services.get(service, 0) + lag
    return dict(sorted(services.items()))


@dataclass(frozen=True)
class BusinessHours:
    """A working week in UTC. Ops does not see each owner's hours (the router keeps
    them); it knows the router's default, which owners without their own follow."""

    days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday..Friday
    opens: time = time(9)
    closes: time = time(17)

    def is_open(self, at: datetime) -> bool:
        at = at.astimezone(UTC)
        return at.weekday() in self.days and self.opens <= at.time() < self.closes

    def next_opening(self, at: datetime) -> datetime:
        at = at.astimezone(UTC)
        for ahead in range(8):
            day = (at + timedelta(days=ahead)).date()
            opening = datetime.combine(day, self.opens, tzinfo=UTC)
            if day.weekday() in self.days and opening > at:
                return opening
        raise ValueError("no working day in the week")  # days is never empty

    def says(self) -> str:
        names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        first, last = names[self.days[0]], names[self.days[-1]]
        return f"{first}-{last} {self.opens:%H:%M}-{self.closes:%H:%M} UTC"


DEFAULT_HOURS = BusinessHours()
"""The router's default business hours (``services/router/domain/sla.py``)."""


def _in(window: Window) -> str:
    if window.label.startswith("last "):
        return f"in the {window.label}"
    return f"in this range ({window.label})"


def why_empty(
    *,
    windows: Windows,
    scope: Scope,
    now: datetime,
    flow: Flow,
    by_rule: Sequence[Count],
    by_owner: Sequence[Count],
    sla: Sequence[OwnerSla],
    credit: Sequence[FirmCredit],
    funnel_received: int,
    lag: Mapping[str, int],
    lag_error: str | None,
    hours: BusinessHours = DEFAULT_HOURS,
) -> dict[str, str]:
    """For each empty panel, why it is empty, in a sentence: an empty chart otherwise
    reads as broken, and "no reminders" at 07:00 UTC as "nobody is late" when the SLA
    clocks are simply waiting for the working day."""
    who = scope.says()
    reasons: dict[str, str] = {}
    if not flow.channels:
        reasons["flow"] = f"No leads received {_in(windows.flow)}{who}."
    if not by_rule:
        reasons["rules"] = f"No routing decisions {_in(windows.routing)}{who}."
    if not by_owner:
        reasons["owners"] = f"No routing decisions {_in(windows.routing)}{who}."
    if not sla:
        to_owners = sum(c.count for c in by_owner if c.owner_id is not None)
        if to_owners == 0:
            reasons["sla"] = (
                f"No SLA clock ran: no lead was routed to an owner {_in(windows.sla)}{who}."
            )
        elif windows.sla.ends_now and not hours.is_open(now):
            reasons["sla"] = (
                f"No reminders yet: SLA clocks count business minutes only, and it is "
                f"{now.astimezone(UTC):%a %H:%M} UTC, outside business hours "
                f"({hours.says()} by default; owners with their own hours follow theirs). "
                f"The clocks run again from {hours.next_opening(now):%a %H:%M} UTC."
            )
        else:
            reasons["sla"] = (
                f"No reminders, breaches or reassignments {_in(windows.sla)}{who}: every "
                "lead routed to an owner was answered within its SLA or is still inside it."
            )
    if not credit:
        reasons["credit"] = (
            f"No credit decisions on an outside firm's lead {_in(windows.credit)}{who}."
        )
    if funnel_received == 0:
        reasons["funnel"] = f"No leads received {_in(windows.funnel)}{who}."
    if not lag and lag_error is None:
        reasons["lag"] = "No consumer group has committed an offset yet."
    elif lag and not any(lag.values()):
        reasons["lag"] = "Every service is caught up: 0 messages behind."
    return reasons
