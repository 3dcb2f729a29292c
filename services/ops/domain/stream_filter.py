"""The event stream's filters, parsed from query parameters: who sees what.

``type`` may repeat and may hold a comma list; each entry is an exact type
(``leadflow.lead.routed.v1``) or a prefix: ``leadflow.lead`` takes every type under it
(``leadflow.lead.received.v1``, ...), as does ``leadflow.lead.*``. A partner firm always
sees only events of its own firm, and never the company's internals about them: not the
routing decisions (their traces name owners, accounts and other firms), not the owners'
SLA reminders, breaches and reassignments, not the owner directory, not contract
plumbing. It does see its leads, touches, meetings, sales' acceptance or rejection with
the reason, and the credit decisions with their reasons.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_TYPE = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
_VERSIONED = re.compile(r"\.v\d+$")
_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,100}$")
MAX_TYPES = 20
PARTNER_HIDDEN_TOPICS = frozenset(
    {"firms.contracts", "leads.routed", "owners.updated", "backtests.finished"}
)
PARTNER_HIDDEN_TYPES = frozenset(
    {
        "leadflow.lead.sla_reminder.v1",
        "leadflow.lead.sla_breached.v1",
        "leadflow.lead.reassigned.v1",
        "leadflow.event.dead_lettered.v1",  # the company's plumbing, errors included
    }
)


class FilterError(ValueError):
    """Invalid filter input: the field and the reason, for a 422."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotYours(Exception):
    """A partner asked for another firm's events (403)."""


@dataclass(frozen=True)
class TypeFilter:
    exact: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.exact or self.prefixes)


@dataclass(frozen=True)
class StreamFilter:
    types: TypeFilter = field(default_factory=TypeFilter)
    firm_id: str | None = None
    account_id: str | None = None
    exclude_topics: frozenset[str] = frozenset()
    exclude_types: frozenset[str] = frozenset()


def parse_types(values: Iterable[str]) -> TypeFilter:
    exact: set[str] = set()
    prefixes: list[str] = []
    entries = [e.strip() for value in values for e in value.split(",") if e.strip()]
    if len(entries) > MAX_TYPES:
        raise FilterError("type", f"at most {MAX_TYPES} types")
    for entry in entries:
        stem = entry.removesuffix("*")
        if stem and not _TYPE.match(stem):
            raise FilterError("type", f"{entry[:60]!r} is not an event type or a prefix of one")
        if entry.endswith("*"):
            prefixes.append(stem)
        elif _VERSIONED.search(stem):
            exact.add(stem)
        else:
            prefixes.append(stem.rstrip(".") + ".")
    return TypeFilter(frozenset(exact), tuple(dict.fromkeys(prefixes)))


def _identifier(value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not _ID.match(value):
        raise FilterError(name, "letters, digits and _.:@- only, at most 100")
    return value


def stream_filter(
    *,
    types: Iterable[str],
    firm: str | None,
    account: str | None,
    viewer_firm: str | None,
) -> StreamFilter:
    """The filter a caller gets: ``viewer_firm`` is None for ops (sees all), else the
    partner's own firm, which no ``firm`` parameter can widen."""
    firm_id = _identifier(firm, "firm")
    account_id = _identifier(account, "account")
    parsed = parse_types(types)
    if viewer_firm is None:
        return StreamFilter(parsed, firm_id, account_id)
    if firm_id is not None and firm_id != viewer_firm:
        raise NotYours(firm_id)
    return StreamFilter(
        parsed, viewer_firm, account_id, PARTNER_HIDDEN_TOPICS, PARTNER_HIDDEN_TYPES
    )


def resume_position(header: str | None, query: str | None) -> int | None:
    """Where a reconnecting client left off: ``Last-Event-ID`` (what browsers send) or
    ``?last_event_id=``. None: start with what happens from now on."""
    for value, name in ((header, "Last-Event-ID"), (query, "last_event_id")):
        if value is None or value.strip() == "":
            continue
        text = value.strip()
        if not text.isdigit() or len(text) > 18:
            raise FilterError(name, "a stream position (a non-negative integer) is expected")
        return int(text)
    return None
