"""What the dashboard and the lead list are narrowed to, parsed from query parameters
without I/O: a time range, an owner, a firm; for the lead list also the chart a click came
from (which event, channel, campaign, routing rule, credit state). Bad values raise
``FilterError`` naming the field (the API answers 422).

The owner and the firm narrow every panel the same way (``Scope``): the firm is the
lead's (ops fills it on every event of the lead); the owner is matched on the events
about an owner (routing decisions, SLA reminders, breaches and reassignments name
theirs) and, for the other events (a lead received, a credit decision), on the lead:
one routed to that owner at any revision.

It holds no SQL: ``store.py`` turns a ``Scope`` and a ``LeadQuery`` into conditions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Literal, get_args

from services.ops.domain.stream_filter import FilterError
from shared.events.credit import CreditState
from shared.times import OUT_OF_RANGE, in_range

MAX_SPAN = timedelta(days=366)
_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,100}$")
_NO_CONTROL = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")

RECEIVED = "leadflow.lead.received.v1"
ROUTED = "leadflow.lead.routed.v1"
CREDIT_DECIDED = "leadflow.credit.decided.v1"
SLA_REMINDER = "leadflow.lead.sla_reminder.v1"
SLA_BREACHED = "leadflow.lead.sla_breached.v1"
REASSIGNED = "leadflow.lead.reassigned.v1"

OWNER_EVENTS = frozenset({ROUTED, SLA_REMINDER, SLA_BREACHED, REASSIGNED})
"""The events that name an owner of their own: an owner filter matches their owner."""

LeadEvent = Literal["received", "routed", "sla_reminder", "sla_breached", "reassigned", "credit"]
LEAD_EVENTS: dict[str, str] = {
    "received": RECEIVED,
    "routed": ROUTED,
    "sla_reminder": SLA_REMINDER,
    "sla_breached": SLA_BREACHED,
    "reassigned": REASSIGNED,
    "credit": CREDIT_DECIDED,
}
"""The lead list's ``event``: which events' leads are listed (one per chart)."""

CREDIT_STATES: tuple[str, ...] = get_args(CreditState)


Bucket = Literal["minute", "hour", "day"]
BUCKETS: dict[str, timedelta] = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}


def parse_bound(value: str | None, field: str) -> datetime | None:
    """A date (that UTC day's start) or a timestamp with an offset, inside
    ``shared.times``' range so the span arithmetic and the database never overflow."""
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise FilterError(field, "not a date (YYYY-MM-DD) or a timestamp") from None
    if len(text) == 10:
        parsed = datetime.combine(parsed.date(), time(), tzinfo=UTC)
    if parsed.tzinfo is None:
        raise FilterError(field, "timestamp without an offset (Z or +hh:mm)")
    try:
        return in_range(parsed).astimezone(UTC)
    except ValueError:
        raise FilterError(field, OUT_OF_RANGE) from None


def _identifier(value: str | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    if not _ID.match(value):
        raise FilterError(field, "letters, digits and _.:@- only, at most 100")
    return value


def _text(value: str | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    if not _NO_CONTROL.match(value):
        raise FilterError(field, "at most 200 characters, no control characters")
    return value


@dataclass(frozen=True)
class Range:
    """[start, end); either end open when not given."""

    start: datetime | None = None
    end: datetime | None = None

    def __bool__(self) -> bool:
        return self.start is not None or self.end is not None


def parse_range(from_: str | None, to: str | None) -> Range:
    start, end = parse_bound(from_, "from"), parse_bound(to, "to")
    if start is not None and end is not None:
        if start >= end:
            raise FilterError("from", "must be before to")
        if end - start > MAX_SPAN:
            raise FilterError("from", "at most 366 days at once")
    return Range(start, end)


@dataclass(frozen=True)
class Scope:
    """Whose leads: an owner's (see the module's docstring), a firm's; None: everyone's."""

    owner_id: str | None = None
    firm_id: str | None = None

    def __bool__(self) -> bool:
        return self.owner_id is not None or self.firm_id is not None

    def says(self) -> str:
        """The scope as a phrase ending a sentence: " for firm acme, routed to own-lee"."""
        parts = [f"for firm {self.firm_id}"] if self.firm_id else []
        parts += [f"routed to {self.owner_id}"] if self.owner_id else []
        return (" " + ", ".join(parts)) if parts else ""


def parse_scope(owner: str | None, firm: str | None) -> Scope:
    return Scope(_identifier(owner, "owner"), _identifier(firm, "firm"))


@dataclass(frozen=True)
class BoardFilter:
    """The dashboard's filter. Without a range each panel keeps its own window ending
    now (flow: the last hour; routing and SLA: 24 hours; credit and funnel: 30 days);
    with one, every panel shows that range."""

    range: Range = Range()
    scope: Scope = Scope()


def board_filter(
    from_: str | None, to: str | None, owner: str | None, firm: str | None
) -> BoardFilter:
    return BoardFilter(parse_range(from_, to), parse_scope(owner, firm))


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    label: str  # "last hour", "2026-11-01 to 2026-11-07 UTC", "since 2026-11-20 09:00 UTC"
    ends_now: bool  # no end was given: the window closes with the clock


@dataclass(frozen=True)
class Windows:
    flow: Window
    bucket: Bucket
    routing: Window
    sla: Window
    credit: Window
    funnel: Window


DEFAULT_SPAN = timedelta(days=30)
SLACK = timedelta(minutes=1)  # an open end is a minute ahead of now (clocks disagree)


def _at(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d}" if moment.time() == time() else f"{moment:%Y-%m-%d %H:%M}"


def _between(start: datetime, end: datetime) -> str:
    """Whole days as people say them (the last day included); else both instants."""
    if start.time() == end.time() == time():
        last = (end - timedelta(days=1)).date()
        days = f"{start:%Y-%m-%d}" + ("" if last == start.date() else f" to {last:%Y-%m-%d}")
        return f"{days} UTC"
    return f"{_at(start)} to {_at(end)} UTC"


def bucket_for(span: timedelta) -> Bucket:
    """Bars per minute up to three hours, per hour up to three days, else per day: at most
    180, 72 or 366 bars."""
    if span <= timedelta(hours=3):
        return "minute"
    if span <= timedelta(days=3):
        return "hour"
    return "day"


def floor_to(moment: datetime, bucket: Bucket) -> datetime:
    moment = moment.astimezone(UTC).replace(second=0, microsecond=0)
    if bucket in ("hour", "day"):
        moment = moment.replace(minute=0)
    if bucket == "day":
        moment = moment.replace(hour=0)
    return moment


def windows(board: BoardFilter, now: datetime) -> Windows:
    """Each panel's [start, end): its own window ending now, or the filter's range (an
    open end: now; an open start: 30 days before the end)."""
    if not board.range:
        minute = floor_to(now, "minute")
        end = now + SLACK
        day = Window(now - timedelta(hours=24), end, "last 24 h", ends_now=True)
        month = Window(now - DEFAULT_SPAN, end, "last 30 days", ends_now=True)
        hour = Window(minute - timedelta(minutes=59), minute + SLACK, "last hour", ends_now=True)
        return Windows(flow=hour, bucket="minute", routing=day, sla=day, credit=month, funnel=month)
    end = board.range.end or now + SLACK
    start = board.range.start or end - DEFAULT_SPAN
    if start >= end:  # only "from" given, and it is in the future
        raise FilterError("from", "must be before to")
    if end - start > MAX_SPAN:
        raise FilterError("from", "at most 366 days at once")
    if board.range.end is None:
        given = Window(start, end, f"since {_at(start)} UTC", ends_now=True)
    else:
        given = Window(start, end, _between(start, end), ends_now=False)
    return Windows(
        flow=given,
        bucket=bucket_for(end - start),
        routing=given,
        sla=given,
        credit=given,
        funnel=given,
    )


def axis(window: Window, bucket: Bucket) -> list[datetime]:
    """The start of each bucket that overlaps [start, end), oldest first."""
    step = BUCKETS[bucket]
    at, starts = floor_to(window.start, bucket), []
    while at < window.end:
        starts.append(at)
        at += step
    return starts


@dataclass(frozen=True)
class LeadQuery:
    """The lead list: leads with an ``event`` (a type) in the range that matches the
    chart's fields and the scope, and whose received data matches ``q``."""

    event: str = RECEIVED
    range: Range = Range()
    scope: Scope = Scope()
    q: str | None = None
    channel: str | None = None
    campaign: str | None = None  # NO_CAMPAIGN, the funnel's "(none)": leads without one
    rule: str | None = None  # routing decisions only
    state: str | None = None  # credit decisions only: the lead's latest in the range

    @property
    def text_only(self) -> bool:
        """Only the search text (or nothing): every received lead that matches it."""
        return replace(self, q=None) == LeadQuery()


def lead_query(
    *,
    event: str,
    from_: str | None,
    to: str | None,
    owner: str | None,
    firm: str | None,
    q: str | None,
    channel: str | None,
    campaign: str | None,
    rule: str | None,
    state: str | None,
) -> LeadQuery:
    event_type = LEAD_EVENTS.get(event)
    if event_type is None:
        raise FilterError("event", f"one of {', '.join(LEAD_EVENTS)}")
    rule_id = _identifier(rule, "rule")
    if rule_id is not None and event_type != ROUTED:
        raise FilterError("rule", "only with event=routed (a routing decision's rule)")
    state_id = state or None
    if state_id is not None and state_id not in CREDIT_STATES:
        raise FilterError("state", f"one of {', '.join(CREDIT_STATES)}")
    if state_id is not None and event_type != CREDIT_DECIDED:
        raise FilterError("state", "only with event=credit (a credit decision's state)")
    return LeadQuery(
        event=event_type,
        range=parse_range(from_, to),
        scope=parse_scope(owner, firm),
        q=q.strip().lower() if q and q.strip() else None,
        channel=_identifier(channel, "channel"),
        campaign=_text(campaign, "campaign"),
        rule=rule_id,
        state=state_id,
    )
