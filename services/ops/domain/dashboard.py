"""The dashboard's panels shaped from counted rows: lead flow per channel per minute,
SLA events per owner, credit per firm, consumer lag per service."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel

SLA_TYPES = {
    "leadflow.lead.sla_reminder.v1": "reminders",
    "leadflow.lead.sla_breached.v1": "breaches",
    "leadflow.lead.reassigned.v1": "reassignments",
}


class Series(BaseModel):
    name: str
    values: list[int]


class Flow(BaseModel):
    minutes: list[datetime]
    channels: list[Series]


def flow(rows: Iterable[tuple[datetime, str, int]], now: datetime, minutes: int = 60) -> Flow:
    """Leads received per channel in each of the last ``minutes`` minutes (zeros kept, so
    the chart's time axis is even), oldest first."""
    end = now.replace(second=0, microsecond=0)
    axis = [end - timedelta(minutes=minutes - 1 - i) for i in range(minutes)]
    index = {minute: i for i, minute in enumerate(axis)}
    counts: dict[str, list[int]] = {}
    for minute, channel, count in rows:
        slot = index.get(minute.replace(second=0, microsecond=0))
        if slot is not None:
            counts.setdefault(channel, [0] * minutes)[slot] += count
    return Flow(
        minutes=axis,
        channels=[Series(name=c, values=v) for c, v in sorted(counts.items())],
    )


class Count(BaseModel):
    name: str
    count: int


def counts(rows: Iterable[tuple[str, int]]) -> list[Count]:
    return [Count(name=name, count=n) for name, n in rows]


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
